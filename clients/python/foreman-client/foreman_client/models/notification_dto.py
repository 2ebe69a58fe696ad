from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="NotificationDto")


@_attrs_define
class NotificationDto:
    """A fired notification.

    Attributes:
        acknowledged (bool): Whether a person acknowledged it.
        details (Any): Figures behind it.
        id (str): Id.
        message (str): One line for people.
        severity (str): `info`, `warning` or `critical`. Example: warning.
        timestamp (datetime.datetime): When it fired.
        trigger (str): The trigger that fired. Example: budget_threshold.
        acknowledged_at (datetime.datetime | None | Unset): When.
        task_id (None | str | Unset): The task concerned.
        ticket_id (None | str | Unset): The ticket concerned.
    """

    acknowledged: bool
    details: Any
    id: str
    message: str
    severity: str
    timestamp: datetime.datetime
    trigger: str
    acknowledged_at: datetime.datetime | None | Unset = UNSET
    task_id: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        acknowledged = self.acknowledged

        details = self.details

        id = self.id

        message = self.message

        severity = self.severity

        timestamp = self.timestamp.isoformat()

        trigger = self.trigger

        acknowledged_at: None | str | Unset
        if isinstance(self.acknowledged_at, Unset):
            acknowledged_at = UNSET
        elif isinstance(self.acknowledged_at, datetime.datetime):
            acknowledged_at = self.acknowledged_at.isoformat()
        else:
            acknowledged_at = self.acknowledged_at

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
                "acknowledged": acknowledged,
                "details": details,
                "id": id,
                "message": message,
                "severity": severity,
                "timestamp": timestamp,
                "trigger": trigger,
            }
        )
        if acknowledged_at is not UNSET:
            field_dict["acknowledged_at"] = acknowledged_at
        if task_id is not UNSET:
            field_dict["task_id"] = task_id
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        acknowledged = d.pop("acknowledged")

        details = d.pop("details")

        id = d.pop("id")

        message = d.pop("message")

        severity = d.pop("severity")

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        trigger = d.pop("trigger")

        def _parse_acknowledged_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                acknowledged_at_type_0 = datetime.datetime.fromisoformat(data)

                return acknowledged_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        acknowledged_at = _parse_acknowledged_at(d.pop("acknowledged_at", UNSET))

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

        notification_dto = cls(
            acknowledged=acknowledged,
            details=details,
            id=id,
            message=message,
            severity=severity,
            timestamp=timestamp,
            trigger=trigger,
            acknowledged_at=acknowledged_at,
            task_id=task_id,
            ticket_id=ticket_id,
        )

        notification_dto.additional_properties = d
        return notification_dto

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
