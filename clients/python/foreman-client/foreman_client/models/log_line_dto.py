from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.log_line_dto_fields_type_0 import LogLineDtoFieldsType0


T = TypeVar("T", bound="LogLineDto")


@_attrs_define
class LogLineDto:
    """One of the server's log lines.

    Attributes:
        at (datetime.datetime): When it was emitted.
        id (int): Increases with every stored line; the cursor and the SSE `id`.
        level (str): `error`, `warn`, `info`, `debug` or `trace`. Example: info.
        message (str): The message.
        target (str): The emitting module. Example: foreman_pipeline::daemon.
        fields (LogLineDtoFieldsType0 | None | Unset): The other fields of the line.
        run_id (None | str | Unset): The run that emitted it.
        ticket_id (None | str | Unset): The ticket the line is about.
    """

    at: datetime.datetime
    id: int
    level: str
    message: str
    target: str
    fields: LogLineDtoFieldsType0 | None | Unset = UNSET
    run_id: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.log_line_dto_fields_type_0 import LogLineDtoFieldsType0  # noqa: PLC0415

        at = self.at.isoformat()

        id = self.id

        level = self.level

        message = self.message

        target = self.target

        fields: dict[str, Any] | None | Unset
        if isinstance(self.fields, Unset):
            fields = UNSET
        elif isinstance(self.fields, LogLineDtoFieldsType0):
            fields = self.fields.to_dict()
        else:
            fields = self.fields

        run_id: None | str | Unset
        if isinstance(self.run_id, Unset):
            run_id = UNSET
        else:
            run_id = self.run_id

        ticket_id: None | str | Unset
        if isinstance(self.ticket_id, Unset):
            ticket_id = UNSET
        else:
            ticket_id = self.ticket_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "id": id,
                "level": level,
                "message": message,
                "target": target,
            }
        )
        if fields is not UNSET:
            field_dict["fields"] = fields
        if run_id is not UNSET:
            field_dict["run_id"] = run_id
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.log_line_dto_fields_type_0 import LogLineDtoFieldsType0  # noqa: PLC0415

        d = dict(src_dict)
        at = datetime.datetime.fromisoformat(d.pop("at"))

        id = d.pop("id")

        level = d.pop("level")

        message = d.pop("message")

        target = d.pop("target")

        def _parse_fields(data: object) -> LogLineDtoFieldsType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                fields_type_0 = LogLineDtoFieldsType0.from_dict(data)

                return fields_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LogLineDtoFieldsType0 | None | Unset, data)

        fields = _parse_fields(d.pop("fields", UNSET))

        def _parse_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_id = _parse_run_id(d.pop("run_id", UNSET))

        def _parse_ticket_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_id = _parse_ticket_id(d.pop("ticket_id", UNSET))

        log_line_dto = cls(
            at=at,
            id=id,
            level=level,
            message=message,
            target=target,
            fields=fields,
            run_id=run_id,
            ticket_id=ticket_id,
        )

        log_line_dto.additional_properties = d
        return log_line_dto

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
