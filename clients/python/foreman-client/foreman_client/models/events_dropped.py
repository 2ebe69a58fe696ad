from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.events_dropped_event_type import EventsDroppedEventType

T = TypeVar("T", bound="EventsDropped")


@_attrs_define
class EventsDropped:
    """a live client fell behind: `count` events were skipped and follow from the log

    Attributes:
        count (int):
        event_type (EventsDroppedEventType):
    """

    count: int
    event_type: EventsDroppedEventType
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        count = self.count

        event_type = self.event_type.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "count": count,
                "event_type": event_type,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        count = d.pop("count")

        event_type = EventsDroppedEventType(d.pop("event_type"))

        events_dropped = cls(
            count=count,
            event_type=event_type,
        )

        events_dropped.additional_properties = d
        return events_dropped

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
