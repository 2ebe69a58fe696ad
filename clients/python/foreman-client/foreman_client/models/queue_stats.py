from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.budgets import Budgets
    from ..models.queue_stats_by_status import QueueStatsByStatus
    from ..models.slot_counts import SlotCounts


T = TypeVar("T", bound="QueueStats")


@_attrs_define
class QueueStats:
    """The queue and its throughput.

    Attributes:
        budgets (Budgets): Configured budget limits; `null` means unlimited.
        by_status (QueueStatsByStatus): Tickets per status (statuses without tickets omitted).
        cost_today_usd (float): Spend so far today (UTC), in USD.
        duration_sample (int): Finished tickets the durations are taken from (the last 50 that started).
        live_slots (bool): Whether the slots are the running daemon's own (`false`: the configured number, with
            busy slots counted from tickets under a live lease).
        queue_length (int): Tickets waiting to be claimed.
        slots (SlotCounts): The execution slots in numbers.
        total (int): Every ticket.
        estimated_wait_secs (float | None | Unset): How long a ticket submitted now waits before it starts, in seconds:
            0 while a slot is
            free, else one mean duration per round of slots ahead of it; `null` when there is
            nothing to estimate from (no finished ticket, or no slot).
        mean_duration_secs (float | None | Unset): Mean start-to-finish time of those tickets, in seconds; `null` before
            any.
        p90_duration_secs (float | None | Unset): 90th percentile (nearest rank) of the same, in seconds.
    """

    budgets: Budgets
    by_status: QueueStatsByStatus
    cost_today_usd: float
    duration_sample: int
    live_slots: bool
    queue_length: int
    slots: SlotCounts
    total: int
    estimated_wait_secs: float | None | Unset = UNSET
    mean_duration_secs: float | None | Unset = UNSET
    p90_duration_secs: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        budgets = self.budgets.to_dict()

        by_status = self.by_status.to_dict()

        cost_today_usd = self.cost_today_usd

        duration_sample = self.duration_sample

        live_slots = self.live_slots

        queue_length = self.queue_length

        slots = self.slots.to_dict()

        total = self.total

        estimated_wait_secs: float | None | Unset
        if isinstance(self.estimated_wait_secs, Unset):
            estimated_wait_secs = UNSET
        else:
            estimated_wait_secs = self.estimated_wait_secs

        mean_duration_secs: float | None | Unset
        if isinstance(self.mean_duration_secs, Unset):
            mean_duration_secs = UNSET
        else:
            mean_duration_secs = self.mean_duration_secs

        p90_duration_secs: float | None | Unset
        if isinstance(self.p90_duration_secs, Unset):
            p90_duration_secs = UNSET
        else:
            p90_duration_secs = self.p90_duration_secs

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "budgets": budgets,
                "by_status": by_status,
                "cost_today_usd": cost_today_usd,
                "duration_sample": duration_sample,
                "live_slots": live_slots,
                "queue_length": queue_length,
                "slots": slots,
                "total": total,
            }
        )
        if estimated_wait_secs is not UNSET:
            field_dict["estimated_wait_secs"] = estimated_wait_secs
        if mean_duration_secs is not UNSET:
            field_dict["mean_duration_secs"] = mean_duration_secs
        if p90_duration_secs is not UNSET:
            field_dict["p90_duration_secs"] = p90_duration_secs

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.budgets import Budgets  # noqa: PLC0415
        from ..models.queue_stats_by_status import QueueStatsByStatus  # noqa: PLC0415
        from ..models.slot_counts import SlotCounts  # noqa: PLC0415

        d = dict(src_dict)
        budgets = Budgets.from_dict(d.pop("budgets"))

        by_status = QueueStatsByStatus.from_dict(d.pop("by_status"))

        cost_today_usd = d.pop("cost_today_usd")

        duration_sample = d.pop("duration_sample")

        live_slots = d.pop("live_slots")

        queue_length = d.pop("queue_length")

        slots = SlotCounts.from_dict(d.pop("slots"))

        total = d.pop("total")

        def _parse_estimated_wait_secs(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        estimated_wait_secs = _parse_estimated_wait_secs(d.pop("estimated_wait_secs", UNSET))

        def _parse_mean_duration_secs(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        mean_duration_secs = _parse_mean_duration_secs(d.pop("mean_duration_secs", UNSET))

        def _parse_p90_duration_secs(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        p90_duration_secs = _parse_p90_duration_secs(d.pop("p90_duration_secs", UNSET))

        queue_stats = cls(
            budgets=budgets,
            by_status=by_status,
            cost_today_usd=cost_today_usd,
            duration_sample=duration_sample,
            live_slots=live_slots,
            queue_length=queue_length,
            slots=slots,
            total=total,
            estimated_wait_secs=estimated_wait_secs,
            mean_duration_secs=mean_duration_secs,
            p90_duration_secs=p90_duration_secs,
        )

        queue_stats.additional_properties = d
        return queue_stats

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
