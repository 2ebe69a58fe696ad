from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ClaudeCodeDay")


@_attrs_define
class ClaudeCodeDay:
    """Claude Code usage for one day.

    Attributes:
        cost_usd (float): Estimated spend in USD.
        date (datetime.date): UTC day.
        sessions (int): Sessions active that day.
    """

    cost_usd: float
    date: datetime.date
    sessions: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        date = self.date.isoformat()

        sessions = self.sessions

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cost_usd": cost_usd,
                "date": date,
                "sessions": sessions,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        date = datetime.date.fromisoformat(d.pop("date"))

        sessions = d.pop("sessions")

        claude_code_day = cls(
            cost_usd=cost_usd,
            date=date,
            sessions=sessions,
        )

        claude_code_day.additional_properties = d
        return claude_code_day

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
