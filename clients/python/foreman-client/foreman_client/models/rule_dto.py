from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.proposed_by_dto import ProposedByDto


T = TypeVar("T", bound="RuleDto")


@_attrs_define
class RuleDto:
    """A validation rule.

    Attributes:
        applies_to (list[str]): Globs of the files it applies to; empty: every file.
        created_at (datetime.datetime): When it was created.
        id (str): Slug, unique in the project. Example: no-unwrap.
        kind (str): `regex` (a violation per matching added line), `missing` (a violation when the pattern
            is absent from a matched changed file) or `forbidden_path` (a changed file whose path
            matches the glob). Example: regex.
        pattern (str): A regex (`regex`, `missing`) or a glob (`forbidden_path`). Example: \\.unwrap\\(\\).
        severity (str): `error` (fails the task's gate) or `warning` (reported to the reviewer and in the pull
            request). Example: error.
        source (str): `person` or `reviewer`. Example: person.
        status (str): `accepted` (enforced), `proposed` (waiting for a person) or `rejected`. Example: accepted.
        updated_at (datetime.datetime): When it last changed.
        message (None | str | Unset): Text for people, shown with each violation.
        proposed_by (None | ProposedByDto | Unset):
        rationale (None | str | Unset): Why it exists.
    """

    applies_to: list[str]
    created_at: datetime.datetime
    id: str
    kind: str
    pattern: str
    severity: str
    source: str
    status: str
    updated_at: datetime.datetime
    message: None | str | Unset = UNSET
    proposed_by: None | ProposedByDto | Unset = UNSET
    rationale: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.proposed_by_dto import ProposedByDto  # noqa: PLC0415

        applies_to = self.applies_to

        created_at = self.created_at.isoformat()

        id = self.id

        kind = self.kind

        pattern = self.pattern

        severity = self.severity

        source = self.source

        status = self.status

        updated_at = self.updated_at.isoformat()

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        proposed_by: dict[str, Any] | None | Unset
        if isinstance(self.proposed_by, Unset):
            proposed_by = UNSET
        elif isinstance(self.proposed_by, ProposedByDto):
            proposed_by = self.proposed_by.to_dict()
        else:
            proposed_by = self.proposed_by

        rationale: None | str | Unset
        if isinstance(self.rationale, Unset):
            rationale = UNSET
        else:
            rationale = self.rationale

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "applies_to": applies_to,
                "created_at": created_at,
                "id": id,
                "kind": kind,
                "pattern": pattern,
                "severity": severity,
                "source": source,
                "status": status,
                "updated_at": updated_at,
            }
        )
        if message is not UNSET:
            field_dict["message"] = message
        if proposed_by is not UNSET:
            field_dict["proposed_by"] = proposed_by
        if rationale is not UNSET:
            field_dict["rationale"] = rationale

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.proposed_by_dto import ProposedByDto  # noqa: PLC0415

        d = dict(src_dict)
        applies_to = cast(list[str], d.pop("applies_to"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        id = d.pop("id")

        kind = d.pop("kind")

        pattern = d.pop("pattern")

        severity = d.pop("severity")

        source = d.pop("source")

        status = d.pop("status")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        def _parse_proposed_by(data: object) -> None | ProposedByDto | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                proposed_by_type_0 = ProposedByDto.from_dict(data)

                return proposed_by_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProposedByDto | Unset, data)

        proposed_by = _parse_proposed_by(d.pop("proposed_by", UNSET))

        def _parse_rationale(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        rationale = _parse_rationale(d.pop("rationale", UNSET))

        rule_dto = cls(
            applies_to=applies_to,
            created_at=created_at,
            id=id,
            kind=kind,
            pattern=pattern,
            severity=severity,
            source=source,
            status=status,
            updated_at=updated_at,
            message=message,
            proposed_by=proposed_by,
            rationale=rationale,
        )

        rule_dto.additional_properties = d
        return rule_dto

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
