from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SubmitterStats")


@_attrs_define
class SubmitterStats:
    """One submitter's last seven days.

    Attributes:
        completed (int): Of those, merged or done.
        cost_usd (float): Their spend in USD.
        failed (int): Of those, failed or blocked.
        in_progress (int): Of those, still queued or in progress.
        submitter (str): Submitter (`unknown` when a ticket has none).
        tickets (int): Tickets created in the window.
    """

    completed: int
    cost_usd: float
    failed: int
    in_progress: int
    submitter: str
    tickets: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        completed = self.completed

        cost_usd = self.cost_usd

        failed = self.failed

        in_progress = self.in_progress

        submitter = self.submitter

        tickets = self.tickets

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "completed": completed,
                "cost_usd": cost_usd,
                "failed": failed,
                "in_progress": in_progress,
                "submitter": submitter,
                "tickets": tickets,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        completed = d.pop("completed")

        cost_usd = d.pop("cost_usd")

        failed = d.pop("failed")

        in_progress = d.pop("in_progress")

        submitter = d.pop("submitter")

        tickets = d.pop("tickets")

        submitter_stats = cls(
            completed=completed,
            cost_usd=cost_usd,
            failed=failed,
            in_progress=in_progress,
            submitter=submitter,
            tickets=tickets,
        )

        submitter_stats.additional_properties = d
        return submitter_stats

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
