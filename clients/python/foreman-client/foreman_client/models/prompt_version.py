from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PromptVersion")


@_attrs_define
class PromptVersion:
    """A prompt template version seen in recorded calls.

    Attributes:
        calls (int): Calls made with it (among the calls examined).
        first_seen (datetime.datetime): First call with it.
        last_seen (datetime.datetime): Last call with it.
        prompt_version (str): SHA-256 of the template.
        role (str): Pipeline role the template serves.
    """

    calls: int
    first_seen: datetime.datetime
    last_seen: datetime.datetime
    prompt_version: str
    role: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        calls = self.calls

        first_seen = self.first_seen.isoformat()

        last_seen = self.last_seen.isoformat()

        prompt_version = self.prompt_version

        role = self.role

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "calls": calls,
                "first_seen": first_seen,
                "last_seen": last_seen,
                "prompt_version": prompt_version,
                "role": role,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        calls = d.pop("calls")

        first_seen = datetime.datetime.fromisoformat(d.pop("first_seen"))

        last_seen = datetime.datetime.fromisoformat(d.pop("last_seen"))

        prompt_version = d.pop("prompt_version")

        role = d.pop("role")

        prompt_version = cls(
            calls=calls,
            first_seen=first_seen,
            last_seen=last_seen,
            prompt_version=prompt_version,
            role=role,
        )

        prompt_version.additional_properties = d
        return prompt_version

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
