from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..models.import_mode import ImportMode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.import_body_document import ImportBodyDocument


T = TypeVar("T", bound="ImportBody")


@_attrs_define
class ImportBody:
    """An exported document to import.

    Attributes:
        document (ImportBodyDocument): A `foreman-rules/1` document (from any project).
        mode (ImportMode | Unset): How an import meets the stored rules.
    """

    document: ImportBodyDocument
    mode: ImportMode | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        document = self.document.to_dict()

        mode: str | Unset = UNSET
        if not isinstance(self.mode, Unset):
            mode = self.mode.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "document": document,
            }
        )
        if mode is not UNSET:
            field_dict["mode"] = mode

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.import_body_document import ImportBodyDocument  # noqa: PLC0415

        d = dict(src_dict)
        document = ImportBodyDocument.from_dict(d.pop("document"))

        _mode = d.pop("mode", UNSET)
        mode: ImportMode | Unset
        if isinstance(_mode, Unset):
            mode = UNSET
        else:
            mode = ImportMode(_mode)

        import_body = cls(
            document=document,
            mode=mode,
        )

        return import_body
