from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ViolationDto")


@_attrs_define
class ViolationDto:
    """One violation.

    Attributes:
        file (str): The file.
        message (str): The rule's message, or what it checks.
        rule_id (str): The rule.
        severity (str): `error` or `warning`.
        excerpt (None | str | Unset): The violating line, cut at 200 characters.
        line (int | None | Unset): 1-based line (`regex` rules); `null` for `missing` and `forbidden_path`.
    """

    file: str
    message: str
    rule_id: str
    severity: str
    excerpt: None | str | Unset = UNSET
    line: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        file = self.file

        message = self.message

        rule_id = self.rule_id

        severity = self.severity

        excerpt: None | str | Unset
        if isinstance(self.excerpt, Unset):
            excerpt = UNSET
        else:
            excerpt = self.excerpt

        line: int | None | Unset
        if isinstance(self.line, Unset):
            line = UNSET
        else:
            line = self.line

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "file": file,
                "message": message,
                "rule_id": rule_id,
                "severity": severity,
            }
        )
        if excerpt is not UNSET:
            field_dict["excerpt"] = excerpt
        if line is not UNSET:
            field_dict["line"] = line

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        file = d.pop("file")

        message = d.pop("message")

        rule_id = d.pop("rule_id")

        severity = d.pop("severity")

        def _parse_excerpt(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        excerpt = _parse_excerpt(d.pop("excerpt", UNSET))

        def _parse_line(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        line = _parse_line(d.pop("line", UNSET))

        violation_dto = cls(
            file=file,
            message=message,
            rule_id=rule_id,
            severity=severity,
            excerpt=excerpt,
            line=line,
        )

        violation_dto.additional_properties = d
        return violation_dto

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
