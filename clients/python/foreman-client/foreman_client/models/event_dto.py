from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_dto_event_type import EventDtoEventType
from ..models.event_dto_severity import EventDtoSeverity
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.event_dto_details_type_0 import EventDtoDetailsType0


T = TypeVar("T", bound="EventDto")


@_attrs_define
class EventDto:
    """A stored event.

    Attributes:
        created_at (datetime.datetime): When it happened.
        event_type (EventDtoEventType): event type
        id (str): Id.
        message (str): One line for people.
        seq (int): Position in the global log.
        severity (EventDtoSeverity): severity
        details (EventDtoDetailsType0 | None | Unset): Structured details.
        task_id (None | str | Unset): Task, if any.
        ticket_id (None | str | Unset): Ticket, if any.
    """

    created_at: datetime.datetime
    event_type: EventDtoEventType
    id: str
    message: str
    seq: int
    severity: EventDtoSeverity
    details: EventDtoDetailsType0 | None | Unset = UNSET
    task_id: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.event_dto_details_type_0 import EventDtoDetailsType0  # noqa: PLC0415

        created_at = self.created_at.isoformat()

        event_type = self.event_type.value

        id = self.id

        message = self.message

        seq = self.seq

        severity = self.severity.value

        details: dict[str, Any] | None | Unset
        if isinstance(self.details, Unset):
            details = UNSET
        elif isinstance(self.details, EventDtoDetailsType0):
            details = self.details.to_dict()
        else:
            details = self.details

        task_id: None | str | Unset
        if isinstance(self.task_id, Unset):
            task_id = UNSET
        else:
            task_id = self.task_id

        ticket_id: None | str | Unset
        if isinstance(self.ticket_id, Unset):
            ticket_id = UNSET
        else:
            ticket_id = self.ticket_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "event_type": event_type,
                "id": id,
                "message": message,
                "seq": seq,
                "severity": severity,
            }
        )
        if details is not UNSET:
            field_dict["details"] = details
        if task_id is not UNSET:
            field_dict["task_id"] = task_id
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_dto_details_type_0 import EventDtoDetailsType0  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        event_type = EventDtoEventType(d.pop("event_type"))

        id = d.pop("id")

        message = d.pop("message")

        seq = d.pop("seq")

        severity = EventDtoSeverity(d.pop("severity"))

        def _parse_details(data: object) -> EventDtoDetailsType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_0 = EventDtoDetailsType0.from_dict(data)

                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EventDtoDetailsType0 | None | Unset, data)

        details = _parse_details(d.pop("details", UNSET))

        def _parse_task_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        task_id = _parse_task_id(d.pop("task_id", UNSET))

        def _parse_ticket_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_id = _parse_ticket_id(d.pop("ticket_id", UNSET))

        event_dto = cls(
            created_at=created_at,
            event_type=event_type,
            id=id,
            message=message,
            seq=seq,
            severity=severity,
            details=details,
            task_id=task_id,
            ticket_id=ticket_id,
        )

        event_dto.additional_properties = d
        return event_dto

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
