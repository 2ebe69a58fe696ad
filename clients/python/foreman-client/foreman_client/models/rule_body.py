from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.rule_body_proposed_by_type_0 import RuleBodyProposedByType0


T = TypeVar("T", bound="RuleBody")


@_attrs_define
class RuleBody:
    """A rule as a client sends it; only `kind` and `pattern` are required, and unknown fields are
    refused. A rule fetched from the API may be sent back as it is.

        Attributes:
            kind (str): `regex`, `missing` or `forbidden_path`. Example: regex.
            pattern (str): A regex (compiled within a 1 MiB size limit) or a glob.
            applies_to (list[str] | None | Unset): Globs; default every file.
            created_at (datetime.datetime | None | Unset): Kept when given (an exported rule); else now, or the stored
                rule's.
            id (None | str | Unset): Slug (1 to 64 of `a-z 0-9 - _ .`); generated from the kind and pattern when absent.
            message (None | str | Unset): Text for people.
            proposed_by (None | RuleBodyProposedByType0 | Unset): `{ticket_id, task_id}` of the review that proposed it.
            rationale (None | str | Unset): Why it exists.
            severity (None | str | Unset): `error` (default) or `warning`.
            source (None | str | Unset): `person` (default) or `reviewer`.
            status (None | str | Unset): `accepted` (default), `proposed` or `rejected`.
            updated_at (datetime.datetime | None | Unset): Ignored.
    """

    kind: str
    pattern: str
    applies_to: list[str] | None | Unset = UNSET
    created_at: datetime.datetime | None | Unset = UNSET
    id: None | str | Unset = UNSET
    message: None | str | Unset = UNSET
    proposed_by: None | RuleBodyProposedByType0 | Unset = UNSET
    rationale: None | str | Unset = UNSET
    severity: None | str | Unset = UNSET
    source: None | str | Unset = UNSET
    status: None | str | Unset = UNSET
    updated_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.rule_body_proposed_by_type_0 import RuleBodyProposedByType0  # noqa: PLC0415

        kind = self.kind

        pattern = self.pattern

        applies_to: list[str] | None | Unset
        if isinstance(self.applies_to, Unset):
            applies_to = UNSET
        elif isinstance(self.applies_to, list):
            applies_to = self.applies_to

        else:
            applies_to = self.applies_to

        created_at: None | str | Unset
        if isinstance(self.created_at, Unset):
            created_at = UNSET
        elif isinstance(self.created_at, datetime.datetime):
            created_at = self.created_at.isoformat()
        else:
            created_at = self.created_at

        id: None | str | Unset
        if isinstance(self.id, Unset):
            id = UNSET
        else:
            id = self.id

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        proposed_by: dict[str, Any] | None | Unset
        if isinstance(self.proposed_by, Unset):
            proposed_by = UNSET
        elif isinstance(self.proposed_by, RuleBodyProposedByType0):
            proposed_by = self.proposed_by.to_dict()
        else:
            proposed_by = self.proposed_by

        rationale: None | str | Unset
        if isinstance(self.rationale, Unset):
            rationale = UNSET
        else:
            rationale = self.rationale

        severity: None | str | Unset
        if isinstance(self.severity, Unset):
            severity = UNSET
        else:
            severity = self.severity

        source: None | str | Unset
        if isinstance(self.source, Unset):
            source = UNSET
        else:
            source = self.source

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        updated_at: None | str | Unset
        if isinstance(self.updated_at, Unset):
            updated_at = UNSET
        elif isinstance(self.updated_at, datetime.datetime):
            updated_at = self.updated_at.isoformat()
        else:
            updated_at = self.updated_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "kind": kind,
                "pattern": pattern,
            }
        )
        if applies_to is not UNSET:
            field_dict["applies_to"] = applies_to
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if id is not UNSET:
            field_dict["id"] = id
        if message is not UNSET:
            field_dict["message"] = message
        if proposed_by is not UNSET:
            field_dict["proposed_by"] = proposed_by
        if rationale is not UNSET:
            field_dict["rationale"] = rationale
        if severity is not UNSET:
            field_dict["severity"] = severity
        if source is not UNSET:
            field_dict["source"] = source
        if status is not UNSET:
            field_dict["status"] = status
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rule_body_proposed_by_type_0 import RuleBodyProposedByType0  # noqa: PLC0415

        d = dict(src_dict)
        kind = d.pop("kind")

        pattern = d.pop("pattern")

        def _parse_applies_to(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                applies_to_type_0 = cast(list[str], data)

                return applies_to_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        applies_to = _parse_applies_to(d.pop("applies_to", UNSET))

        def _parse_created_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                created_at_type_0 = datetime.datetime.fromisoformat(data)

                return created_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        created_at = _parse_created_at(d.pop("created_at", UNSET))

        def _parse_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        id = _parse_id(d.pop("id", UNSET))

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        def _parse_proposed_by(data: object) -> None | RuleBodyProposedByType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                proposed_by_type_0 = RuleBodyProposedByType0.from_dict(data)

                return proposed_by_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RuleBodyProposedByType0 | Unset, data)

        proposed_by = _parse_proposed_by(d.pop("proposed_by", UNSET))

        def _parse_rationale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        rationale = _parse_rationale(d.pop("rationale", UNSET))

        def _parse_severity(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        severity = _parse_severity(d.pop("severity", UNSET))

        def _parse_source(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        source = _parse_source(d.pop("source", UNSET))

        def _parse_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        def _parse_updated_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                updated_at_type_0 = datetime.datetime.fromisoformat(data)

                return updated_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        updated_at = _parse_updated_at(d.pop("updated_at", UNSET))

        rule_body = cls(
            kind=kind,
            pattern=pattern,
            applies_to=applies_to,
            created_at=created_at,
            id=id,
            message=message,
            proposed_by=proposed_by,
            rationale=rationale,
            severity=severity,
            source=source,
            status=status,
            updated_at=updated_at,
        )

        rule_body.additional_properties = d
        return rule_body

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
