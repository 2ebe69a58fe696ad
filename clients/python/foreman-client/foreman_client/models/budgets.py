from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Budgets")


@_attrs_define
class Budgets:
    """Configured budget limits; `null` means unlimited.

    Attributes:
        alert_threshold_pct (int): Percentage of a limit at which a cost alert is raised.
        max_daily_usd (float | None | Unset): Per UTC day.
        max_monthly_usd (float | None | Unset): Per UTC month.
        max_task_usd (float | None | Unset): Per task.
        max_ticket_usd (float | None | Unset): Per ticket.
    """

    alert_threshold_pct: int
    max_daily_usd: float | None | Unset = UNSET
    max_monthly_usd: float | None | Unset = UNSET
    max_task_usd: float | None | Unset = UNSET
    max_ticket_usd: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        alert_threshold_pct = self.alert_threshold_pct

        max_daily_usd: float | None | Unset
        if isinstance(self.max_daily_usd, Unset):
            max_daily_usd = UNSET
        else:
            max_daily_usd = self.max_daily_usd

        max_monthly_usd: float | None | Unset
        if isinstance(self.max_monthly_usd, Unset):
            max_monthly_usd = UNSET
        else:
            max_monthly_usd = self.max_monthly_usd

        max_task_usd: float | None | Unset
        if isinstance(self.max_task_usd, Unset):
            max_task_usd = UNSET
        else:
            max_task_usd = self.max_task_usd

        max_ticket_usd: float | None | Unset
        if isinstance(self.max_ticket_usd, Unset):
            max_ticket_usd = UNSET
        else:
            max_ticket_usd = self.max_ticket_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "alert_threshold_pct": alert_threshold_pct,
            }
        )
        if max_daily_usd is not UNSET:
            field_dict["max_daily_usd"] = max_daily_usd
        if max_monthly_usd is not UNSET:
            field_dict["max_monthly_usd"] = max_monthly_usd
        if max_task_usd is not UNSET:
            field_dict["max_task_usd"] = max_task_usd
        if max_ticket_usd is not UNSET:
            field_dict["max_ticket_usd"] = max_ticket_usd

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        alert_threshold_pct = d.pop("alert_threshold_pct")

        def _parse_max_daily_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_daily_usd = _parse_max_daily_usd(d.pop("max_daily_usd", UNSET))

        def _parse_max_monthly_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_monthly_usd = _parse_max_monthly_usd(d.pop("max_monthly_usd", UNSET))

        def _parse_max_task_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_task_usd = _parse_max_task_usd(d.pop("max_task_usd", UNSET))

        def _parse_max_ticket_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_ticket_usd = _parse_max_ticket_usd(d.pop("max_ticket_usd", UNSET))

        budgets = cls(
            alert_threshold_pct=alert_threshold_pct,
            max_daily_usd=max_daily_usd,
            max_monthly_usd=max_monthly_usd,
            max_task_usd=max_task_usd,
            max_ticket_usd=max_ticket_usd,
        )

        budgets.additional_properties = d
        return budgets

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
