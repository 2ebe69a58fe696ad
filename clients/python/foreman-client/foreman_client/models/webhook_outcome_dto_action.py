from enum import StrEnum


class WebhookOutcomeDtoAction(StrEnum):
    DEFERRED = "deferred"
    IGNORED = "ignored"
    QUEUED = "queued"
    RECORDED = "recorded"
    UPDATED = "updated"

    def __str__(self) -> str:
        return str(self.value)
