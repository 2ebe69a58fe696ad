from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.claude_code_day import ClaudeCodeDay
    from ..models.claude_code_today import ClaudeCodeToday


T = TypeVar("T", bound="ClaudeCodeUsageDto")


@_attrs_define
class ClaudeCodeUsageDto:
    """Usage parsed from the local Claude Code session logs.

    Attributes:
        available (bool): Whether logs were found; every other field is absent when not.
        estimate_note (None | str | Unset): How the costs were obtained.
        last_7_days (list[ClaudeCodeDay] | None | Unset): The last seven days, oldest first, zero-filled.
        today (ClaudeCodeToday | None | Unset):
        total_sessions (int | None | Unset): Sessions found.
    """

    available: bool
    estimate_note: None | str | Unset = UNSET
    last_7_days: list[ClaudeCodeDay] | None | Unset = UNSET
    today: ClaudeCodeToday | None | Unset = UNSET
    total_sessions: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.claude_code_today import ClaudeCodeToday  # noqa: PLC0415

        available = self.available

        estimate_note: None | str | Unset
        if isinstance(self.estimate_note, Unset):
            estimate_note = UNSET
        else:
            estimate_note = self.estimate_note

        last_7_days: list[dict[str, Any]] | None | Unset
        if isinstance(self.last_7_days, Unset):
            last_7_days = UNSET
        elif isinstance(self.last_7_days, list):
            last_7_days = []
            for last_7_days_type_0_item_data in self.last_7_days:
                last_7_days_type_0_item = last_7_days_type_0_item_data.to_dict()
                last_7_days.append(last_7_days_type_0_item)

        else:
            last_7_days = self.last_7_days

        today: dict[str, Any] | None | Unset
        if isinstance(self.today, Unset):
            today = UNSET
        elif isinstance(self.today, ClaudeCodeToday):
            today = self.today.to_dict()
        else:
            today = self.today

        total_sessions: int | None | Unset
        if isinstance(self.total_sessions, Unset):
            total_sessions = UNSET
        else:
            total_sessions = self.total_sessions

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
            }
        )
        if estimate_note is not UNSET:
            field_dict["estimate_note"] = estimate_note
        if last_7_days is not UNSET:
            field_dict["last_7_days"] = last_7_days
        if today is not UNSET:
            field_dict["today"] = today
        if total_sessions is not UNSET:
            field_dict["total_sessions"] = total_sessions

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.claude_code_day import ClaudeCodeDay  # noqa: PLC0415
        from ..models.claude_code_today import ClaudeCodeToday  # noqa: PLC0415

        d = dict(src_dict)
        available = d.pop("available")

        def _parse_estimate_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        estimate_note = _parse_estimate_note(d.pop("estimate_note", UNSET))

        def _parse_last_7_days(data: object) -> list[ClaudeCodeDay] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                last_7_days_type_0 = []
                _last_7_days_type_0 = data
                for last_7_days_type_0_item_data in _last_7_days_type_0:
                    last_7_days_type_0_item = ClaudeCodeDay.from_dict(last_7_days_type_0_item_data)

                    last_7_days_type_0.append(last_7_days_type_0_item)

                return last_7_days_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[ClaudeCodeDay] | None | Unset, data)

        last_7_days = _parse_last_7_days(d.pop("last_7_days", UNSET))

        def _parse_today(data: object) -> ClaudeCodeToday | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                today_type_0 = ClaudeCodeToday.from_dict(data)

                return today_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ClaudeCodeToday | None | Unset, data)

        today = _parse_today(d.pop("today", UNSET))

        def _parse_total_sessions(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        total_sessions = _parse_total_sessions(d.pop("total_sessions", UNSET))

        claude_code_usage_dto = cls(
            available=available,
            estimate_note=estimate_note,
            last_7_days=last_7_days,
            today=today,
            total_sessions=total_sessions,
        )

        claude_code_usage_dto.additional_properties = d
        return claude_code_usage_dto

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
