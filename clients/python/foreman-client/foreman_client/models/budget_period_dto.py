from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BudgetPeriodDto")


@_attrs_define
class BudgetPeriodDto:
    """One budget period.

    Attributes:
        end (datetime.datetime): The first instant after it.
        exceeded (bool): Whether used and reserved spend reached the limit.
        period (str): `daily` or `monthly` (UTC). Example: daily.
        reserved_usd (float): Held by calls in flight (budget reservations).
        start (datetime.datetime): The period's first instant.
        used_usd (float): Recorded spend in the period.
        limit_usd (float | None | Unset): The limit in USD; `null`: unlimited.
        remaining_usd (float | None | Unset): `limit - used - reserved`, never below 0; `null` when unlimited.
        used_pct (float | None | Unset): Used and reserved as a percentage of the limit; `null` when unlimited.
    """

    end: datetime.datetime
    exceeded: bool
    period: str
    reserved_usd: float
    start: datetime.datetime
    used_usd: float
    limit_usd: float | None | Unset = UNSET
    remaining_usd: float | None | Unset = UNSET
    used_pct: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        end = self.end.isoformat()

        exceeded = self.exceeded

        period = self.period

        reserved_usd = self.reserved_usd

        start = self.start.isoformat()

        used_usd = self.used_usd

        limit_usd: float | None | Unset
        if isinstance(self.limit_usd, Unset):
            limit_usd = UNSET
        else:
            limit_usd = self.limit_usd

        remaining_usd: float | None | Unset
        if isinstance(self.remaining_usd, Unset):
            remaining_usd = UNSET
        else:
            remaining_usd = self.remaining_usd

        used_pct: float | None | Unset
        if isinstance(self.used_pct, Unset):
            used_pct = UNSET
        else:
            used_pct = self.used_pct

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "end": end,
                "exceeded": exceeded,
                "period": period,
                "reserved_usd": reserved_usd,
                "start": start,
                "used_usd": used_usd,
            }
        )
        if limit_usd is not UNSET:
            field_dict["limit_usd"] = limit_usd
        if remaining_usd is not UNSET:
            field_dict["remaining_usd"] = remaining_usd
        if used_pct is not UNSET:
            field_dict["used_pct"] = used_pct

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        end = datetime.datetime.fromisoformat(d.pop("end"))

        exceeded = d.pop("exceeded")

        period = d.pop("period")

        reserved_usd = d.pop("reserved_usd")

        start = datetime.datetime.fromisoformat(d.pop("start"))

        used_usd = d.pop("used_usd")

        def _parse_limit_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        limit_usd = _parse_limit_usd(d.pop("limit_usd", UNSET))

        def _parse_remaining_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        remaining_usd = _parse_remaining_usd(d.pop("remaining_usd", UNSET))

        def _parse_used_pct(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        used_pct = _parse_used_pct(d.pop("used_pct", UNSET))

        budget_period_dto = cls(
            end=end,
            exceeded=exceeded,
            period=period,
            reserved_usd=reserved_usd,
            start=start,
            used_usd=used_usd,
            limit_usd=limit_usd,
            remaining_usd=remaining_usd,
            used_pct=used_pct,
        )

        budget_period_dto.additional_properties = d
        return budget_period_dto

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
