from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SlotCounts")


@_attrs_define
class SlotCounts:
    """The execution slots in numbers.

    Attributes:
        available (int): Slots free for the next ticket.
        busy (int): Slots running a ticket.
        total (int): Slots (`[daemon] max_parallel_tickets`; 0 when the daemon does not run here).
    """

    available: int
    busy: int
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        available = self.available

        busy = self.busy

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
                "busy": busy,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        available = d.pop("available")

        busy = d.pop("busy")

        total = d.pop("total")

        slot_counts = cls(
            available=available,
            busy=busy,
            total=total,
        )

        slot_counts.additional_properties = d
        return slot_counts

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
