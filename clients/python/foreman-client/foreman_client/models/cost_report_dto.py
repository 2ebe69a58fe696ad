from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.cost_group_dto import CostGroupDto


T = TypeVar("T", bound="CostReportDto")


@_attrs_define
class CostReportDto:
    """Costs over a window, grouped.

    Attributes:
        from_ (datetime.datetime): The window's start (included).
        group_by (str): The grouping. Example: day.
        groups (list[CostGroupDto]): Days in order; other groups by cost, highest first.
        to (datetime.datetime): The window's end (excluded).
        total (CostGroupDto): Sums of one group.
    """

    from_: datetime.datetime
    group_by: str
    groups: list[CostGroupDto]
    to: datetime.datetime
    total: CostGroupDto
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_.isoformat()

        group_by = self.group_by

        groups = []
        for groups_item_data in self.groups:
            groups_item = groups_item_data.to_dict()
            groups.append(groups_item)

        to = self.to.isoformat()

        total = self.total.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "from": from_,
                "group_by": group_by,
                "groups": groups,
                "to": to,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.cost_group_dto import CostGroupDto  # noqa: PLC0415

        d = dict(src_dict)
        from_ = datetime.datetime.fromisoformat(d.pop("from"))

        group_by = d.pop("group_by")

        groups = []
        _groups = d.pop("groups")
        for groups_item_data in _groups:
            groups_item = CostGroupDto.from_dict(groups_item_data)

            groups.append(groups_item)

        to = datetime.datetime.fromisoformat(d.pop("to"))

        total = CostGroupDto.from_dict(d.pop("total"))

        cost_report_dto = cls(
            from_=from_,
            group_by=group_by,
            groups=groups,
            to=to,
            total=total,
        )

        cost_report_dto.additional_properties = d
        return cost_report_dto

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
