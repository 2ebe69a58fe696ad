from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.violation_dto import ViolationDto


T = TypeVar("T", bound="ViolationList")


@_attrs_define
class ViolationList:
    """What the rules found.

    Attributes:
        omitted (int): Violations beyond the listed ones.
        violations (list[ViolationDto]): At most 1000, in line order per rule.
    """

    omitted: int
    violations: list[ViolationDto]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        omitted = self.omitted

        violations = []
        for violations_item_data in self.violations:
            violations_item = violations_item_data.to_dict()
            violations.append(violations_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "omitted": omitted,
                "violations": violations,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.violation_dto import ViolationDto  # noqa: PLC0415

        d = dict(src_dict)
        omitted = d.pop("omitted")

        violations = []
        _violations = d.pop("violations")
        for violations_item_data in _violations:
            violations_item = ViolationDto.from_dict(violations_item_data)

            violations.append(violations_item)

        violation_list = cls(
            omitted=omitted,
            violations=violations,
        )

        violation_list.additional_properties = d
        return violation_list

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
