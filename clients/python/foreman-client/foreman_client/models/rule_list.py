from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.rule_dto import RuleDto


T = TypeVar("T", bound="RuleList")


@_attrs_define
class RuleList:
    """A project's rules.

    Attributes:
        project (str): The project.
        revision (int): Incremented by every write; send it back with a `PUT` to refuse a write over a set you
            have not seen.
        rules (list[RuleDto]): The rules, in order.
    """

    project: str
    revision: int
    rules: list[RuleDto]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        project = self.project

        revision = self.revision

        rules = []
        for rules_item_data in self.rules:
            rules_item = rules_item_data.to_dict()
            rules.append(rules_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "project": project,
                "revision": revision,
                "rules": rules,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rule_dto import RuleDto  # noqa: PLC0415

        d = dict(src_dict)
        project = d.pop("project")

        revision = d.pop("revision")

        rules = []
        _rules = d.pop("rules")
        for rules_item_data in _rules:
            rules_item = RuleDto.from_dict(rules_item_data)

            rules.append(rules_item)

        rule_list = cls(
            project=project,
            revision=revision,
            rules=rules,
        )

        rule_list.additional_properties = d
        return rule_list

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
