from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="RunProgressDto")


@_attrs_define
class RunProgressDto:
    """The current run's progress, in `/api/status`.

    Attributes:
        completed (int): Tickets finished in this run (done or failed).
        cost_usd (float): Spend recorded in this run, USD.
        elapsed_seconds (int): Seconds since the run started.
        llm_calls (int): LLM calls recorded in this run.
        run_id (str): The run (`GET /api/runs/{id}`).
        total (int): Those finished plus those queued or being worked on.
        estimated_remaining_seconds (int | None | Unset): Seconds left at this run's pace (elapsed per finished ticket,
            times the tickets left);
            `null` before the first ticket finishes.
    """

    completed: int
    cost_usd: float
    elapsed_seconds: int
    llm_calls: int
    run_id: str
    total: int
    estimated_remaining_seconds: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        completed = self.completed

        cost_usd = self.cost_usd

        elapsed_seconds = self.elapsed_seconds

        llm_calls = self.llm_calls

        run_id = self.run_id

        total = self.total

        estimated_remaining_seconds: int | None | Unset
        if isinstance(self.estimated_remaining_seconds, Unset):
            estimated_remaining_seconds = UNSET
        else:
            estimated_remaining_seconds = self.estimated_remaining_seconds

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "completed": completed,
                "cost_usd": cost_usd,
                "elapsed_seconds": elapsed_seconds,
                "llm_calls": llm_calls,
                "run_id": run_id,
                "total": total,
            }
        )
        if estimated_remaining_seconds is not UNSET:
            field_dict["estimated_remaining_seconds"] = estimated_remaining_seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        completed = d.pop("completed")

        cost_usd = d.pop("cost_usd")

        elapsed_seconds = d.pop("elapsed_seconds")

        llm_calls = d.pop("llm_calls")

        run_id = d.pop("run_id")

        total = d.pop("total")

        def _parse_estimated_remaining_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        estimated_remaining_seconds = _parse_estimated_remaining_seconds(d.pop("estimated_remaining_seconds", UNSET))

        run_progress_dto = cls(
            completed=completed,
            cost_usd=cost_usd,
            elapsed_seconds=elapsed_seconds,
            llm_calls=llm_calls,
            run_id=run_id,
            total=total,
            estimated_remaining_seconds=estimated_remaining_seconds,
        )

        run_progress_dto.additional_properties = d
        return run_progress_dto

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
