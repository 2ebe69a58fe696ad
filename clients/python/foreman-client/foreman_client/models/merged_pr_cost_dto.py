from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="MergedPrCostDto")


@_attrs_define
class MergedPrCostDto:
    """What merged pull requests cost over a window.

    Attributes:
        from_ (datetime.datetime): The window's start (included).
        merged_prs (int): Pull requests merged in the window.
        merged_tickets_cost_usd (float): What the merged tickets cost over their whole life.
        to (datetime.datetime): The window's end (excluded).
        total_cost_usd (float): Every LLM call's cost in the window, failed and unfinished tickets included.
        cost_per_merged_pr_usd (float | None | Unset): `total_cost_usd / merged_prs`: what a merge costs with the
            failures it took; `null`
            without a merge.
    """

    from_: datetime.datetime
    merged_prs: int
    merged_tickets_cost_usd: float
    to: datetime.datetime
    total_cost_usd: float
    cost_per_merged_pr_usd: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_.isoformat()

        merged_prs = self.merged_prs

        merged_tickets_cost_usd = self.merged_tickets_cost_usd

        to = self.to.isoformat()

        total_cost_usd = self.total_cost_usd

        cost_per_merged_pr_usd: float | None | Unset
        if isinstance(self.cost_per_merged_pr_usd, Unset):
            cost_per_merged_pr_usd = UNSET
        else:
            cost_per_merged_pr_usd = self.cost_per_merged_pr_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "from": from_,
                "merged_prs": merged_prs,
                "merged_tickets_cost_usd": merged_tickets_cost_usd,
                "to": to,
                "total_cost_usd": total_cost_usd,
            }
        )
        if cost_per_merged_pr_usd is not UNSET:
            field_dict["cost_per_merged_pr_usd"] = cost_per_merged_pr_usd

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        from_ = datetime.datetime.fromisoformat(d.pop("from"))

        merged_prs = d.pop("merged_prs")

        merged_tickets_cost_usd = d.pop("merged_tickets_cost_usd")

        to = datetime.datetime.fromisoformat(d.pop("to"))

        total_cost_usd = d.pop("total_cost_usd")

        def _parse_cost_per_merged_pr_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        cost_per_merged_pr_usd = _parse_cost_per_merged_pr_usd(d.pop("cost_per_merged_pr_usd", UNSET))

        merged_pr_cost_dto = cls(
            from_=from_,
            merged_prs=merged_prs,
            merged_tickets_cost_usd=merged_tickets_cost_usd,
            to=to,
            total_cost_usd=total_cost_usd,
            cost_per_merged_pr_usd=cost_per_merged_pr_usd,
        )

        merged_pr_cost_dto.additional_properties = d
        return merged_pr_cost_dto

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
