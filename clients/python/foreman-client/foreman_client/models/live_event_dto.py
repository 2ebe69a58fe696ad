from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.live_event_dto_event_type import LiveEventDtoEventType
from ..models.live_event_dto_severity import LiveEventDtoSeverity
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.live_event_dto_details_type_0 import LiveEventDtoDetailsType0


T = TypeVar("T", bound="LiveEventDto")


@_attrs_define
class LiveEventDto:
    """An event with its ticket's context: the global feed and every live message.

    Attributes:
        created_at (datetime.datetime): When it happened.
        event_type (LiveEventDtoEventType): event type
        id (str): Id.
        message (str): One line for people.
        seq (int): Position in the global log (resume after it with `since_seq` or `Last-Event-ID`).
        severity (LiveEventDtoSeverity): severity
        details (LiveEventDtoDetailsType0 | None | Unset): Structured details.
        submitter (None | str | Unset): The ticket's submitter.
        task_id (None | str | Unset): Task, if any.
        ticket_id (None | str | Unset): Ticket, if any.
        ticket_title (None | str | Unset): The ticket's title (null without a ticket or once deleted).
    """

    created_at: datetime.datetime
    event_type: LiveEventDtoEventType
    id: str
    message: str
    seq: int
    severity: LiveEventDtoSeverity
    details: LiveEventDtoDetailsType0 | None | Unset = UNSET
    submitter: None | str | Unset = UNSET
    task_id: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    ticket_title: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.live_event_dto_details_type_0 import LiveEventDtoDetailsType0  # noqa: PLC0415

        created_at = self.created_at.isoformat()

        event_type = self.event_type.value

        id = self.id

        message = self.message

        seq = self.seq

        severity = self.severity.value

        details: dict[str, Any] | None | Unset
        if isinstance(self.details, Unset):
            details = UNSET
        elif isinstance(self.details, LiveEventDtoDetailsType0):
            details = self.details.to_dict()
        else:
            details = self.details

        submitter: None | str | Unset
        if isinstance(self.submitter, Unset):
            submitter = UNSET
        else:
            submitter = self.submitter

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

        ticket_title: None | str | Unset
        if isinstance(self.ticket_title, Unset):
            ticket_title = UNSET
        else:
            ticket_title = self.ticket_title

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
        if submitter is not UNSET:
            field_dict["submitter"] = submitter
        if task_id is not UNSET:
            field_dict["task_id"] = task_id
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id
        if ticket_title is not UNSET:
            field_dict["ticket_title"] = ticket_title

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.live_event_dto_details_type_0 import LiveEventDtoDetailsType0  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        event_type = LiveEventDtoEventType(d.pop("event_type"))

        id = d.pop("id")

        message = d.pop("message")

        seq = d.pop("seq")

        severity = LiveEventDtoSeverity(d.pop("severity"))

        def _parse_details(data: object) -> LiveEventDtoDetailsType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_0 = LiveEventDtoDetailsType0.from_dict(data)

                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LiveEventDtoDetailsType0 | None | Unset, data)

        details = _parse_details(d.pop("details", UNSET))

        def _parse_submitter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        submitter = _parse_submitter(d.pop("submitter", UNSET))

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

        def _parse_ticket_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_title = _parse_ticket_title(d.pop("ticket_title", UNSET))

        live_event_dto = cls(
            created_at=created_at,
            event_type=event_type,
            id=id,
            message=message,
            seq=seq,
            severity=severity,
            details=details,
            submitter=submitter,
            task_id=task_id,
            ticket_id=ticket_id,
            ticket_title=ticket_title,
        )

        live_event_dto.additional_properties = d
        return live_event_dto

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
