from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.budget_period_dto import BudgetPeriodDto


T = TypeVar("T", bound="BudgetStatus")


@_attrs_define
class BudgetStatus:
    """The budget per period.

    Attributes:
        alert_threshold_pct (int): Percentage of a limit at which Foreman alerts.
        exceeded (bool): Whether any period is exceeded.
        periods (list[BudgetPeriodDto]): The day and the month.
        task_limit_usd (float | None | Unset): Limit per task in USD (`null`: unlimited).
        ticket_limit_usd (float | None | Unset): Limit per ticket in USD (`null`: unlimited).
    """

    alert_threshold_pct: int
    exceeded: bool
    periods: list[BudgetPeriodDto]
    task_limit_usd: float | None | Unset = UNSET
    ticket_limit_usd: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        alert_threshold_pct = self.alert_threshold_pct

        exceeded = self.exceeded

        periods = []
        for periods_item_data in self.periods:
            periods_item = periods_item_data.to_dict()
            periods.append(periods_item)

        task_limit_usd: float | None | Unset
        if isinstance(self.task_limit_usd, Unset):
            task_limit_usd = UNSET
        else:
            task_limit_usd = self.task_limit_usd

        ticket_limit_usd: float | None | Unset
        if isinstance(self.ticket_limit_usd, Unset):
            ticket_limit_usd = UNSET
        else:
            ticket_limit_usd = self.ticket_limit_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "alert_threshold_pct": alert_threshold_pct,
                "exceeded": exceeded,
                "periods": periods,
            }
        )
        if task_limit_usd is not UNSET:
            field_dict["task_limit_usd"] = task_limit_usd
        if ticket_limit_usd is not UNSET:
            field_dict["ticket_limit_usd"] = ticket_limit_usd

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.budget_period_dto import BudgetPeriodDto  # noqa: PLC0415

        d = dict(src_dict)
        alert_threshold_pct = d.pop("alert_threshold_pct")

        exceeded = d.pop("exceeded")

        periods = []
        _periods = d.pop("periods")
        for periods_item_data in _periods:
            periods_item = BudgetPeriodDto.from_dict(periods_item_data)

            periods.append(periods_item)

        def _parse_task_limit_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        task_limit_usd = _parse_task_limit_usd(d.pop("task_limit_usd", UNSET))

        def _parse_ticket_limit_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        ticket_limit_usd = _parse_ticket_limit_usd(d.pop("ticket_limit_usd", UNSET))

        budget_status = cls(
            alert_threshold_pct=alert_threshold_pct,
            exceeded=exceeded,
            periods=periods,
            task_limit_usd=task_limit_usd,
            ticket_limit_usd=ticket_limit_usd,
        )

        budget_status.additional_properties = d
        return budget_status

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
