from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.rule_body import RuleBody


T = TypeVar("T", bound="PutRules")


@_attrs_define
class PutRules:
    """The new rule set.

    Attributes:
        rules (list[RuleBody]): Every rule of the project (at most 500), replacing the stored ones.
        revision (int | None | Unset): The revision the client read; the write is refused with 409 when the stored one
            differs.
    """

    rules: list[RuleBody]
    revision: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        rules = []
        for rules_item_data in self.rules:
            rules_item = rules_item_data.to_dict()
            rules.append(rules_item)

        revision: int | None | Unset
        if isinstance(self.revision, Unset):
            revision = UNSET
        else:
            revision = self.revision

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "rules": rules,
            }
        )
        if revision is not UNSET:
            field_dict["revision"] = revision

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rule_body import RuleBody  # noqa: PLC0415

        d = dict(src_dict)
        rules = []
        _rules = d.pop("rules")
        for rules_item_data in _rules:
            rules_item = RuleBody.from_dict(rules_item_data)

            rules.append(rules_item)

        def _parse_revision(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        revision = _parse_revision(d.pop("revision", UNSET))

        put_rules = cls(
            rules=rules,
            revision=revision,
        )

        return put_rules
