from enum import StrEnum


class EventsDroppedEventType(StrEnum):
    EVENTS_DROPPED = "events_dropped"

    def __str__(self) -> str:
        return str(self.value)
