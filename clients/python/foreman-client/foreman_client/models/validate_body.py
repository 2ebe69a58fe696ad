from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ValidateBody")


@_attrs_define
class ValidateBody:
    """A file to check.

    Attributes:
        content (str): Its content; every line counts as added.
        filename (str): Its path in the repository (matched against `applies_to` and `forbidden_path` globs). Example:
            src/lib.rs.
    """

    content: str
    filename: str

    def to_dict(self) -> dict[str, Any]:
        content = self.content

        filename = self.filename

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "content": content,
                "filename": filename,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        content = d.pop("content")

        filename = d.pop("filename")

        validate_body = cls(
            content=content,
            filename=filename,
        )

        return validate_body
