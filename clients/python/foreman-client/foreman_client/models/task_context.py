from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TaskContext")


@_attrs_define
class TaskContext:
    """Context budget and utilisation of a task.

    Attributes:
        budget (int): Token budget for selected context (0 before the task ran).
        cache_hits (int): Prompt cache hits.
        files_selected (int): Files selected before the first turn.
        files_touched (int): Files the agent changed.
        used (int): Tokens used.
        utilization_pct (float): `used / budget` in percent, one decimal.
    """

    budget: int
    cache_hits: int
    files_selected: int
    files_touched: int
    used: int
    utilization_pct: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        budget = self.budget

        cache_hits = self.cache_hits

        files_selected = self.files_selected

        files_touched = self.files_touched

        used = self.used

        utilization_pct = self.utilization_pct

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "budget": budget,
                "cache_hits": cache_hits,
                "files_selected": files_selected,
                "files_touched": files_touched,
                "used": used,
                "utilization_pct": utilization_pct,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        budget = d.pop("budget")

        cache_hits = d.pop("cache_hits")

        files_selected = d.pop("files_selected")

        files_touched = d.pop("files_touched")

        used = d.pop("used")

        utilization_pct = d.pop("utilization_pct")

        task_context = cls(
            budget=budget,
            cache_hits=cache_hits,
            files_selected=files_selected,
            files_touched=files_touched,
            used=used,
            utilization_pct=utilization_pct,
        )

        task_context.additional_properties = d
        return task_context

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
