from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery_dto_body import DeliveryDtoBody


T = TypeVar("T", bound="DeliveryDto")


@_attrs_define
class DeliveryDto:
    """One delivery attempt record.

    Attributes:
        attempt (int): Attempts made.
        body (DeliveryDtoBody): The JSON body sent.
        created_at (datetime.datetime): Queued.
        event_type (str): The event type (`ping` for a test).
        id (str): Its id (`X-Foreman-Delivery`, the same on every attempt).
        next_attempt_at (datetime.datetime): When the next attempt is due.
        status (str): `pending`, `delivered`, `failed` (retried later) or `dead` (given up).
        subscription_id (str): The subscription.
        delivered_at (datetime.datetime | None | Unset): Delivered.
        error (None | str | Unset): The last failure.
        event_seq (int | None | Unset): The event's `seq` (`null` for a test delivery).
        last_status (int | None | Unset): The last answer's status code.
        latency_ms (int | None | Unset): The last attempt's duration in milliseconds.
    """

    attempt: int
    body: DeliveryDtoBody
    created_at: datetime.datetime
    event_type: str
    id: str
    next_attempt_at: datetime.datetime
    status: str
    subscription_id: str
    delivered_at: datetime.datetime | None | Unset = UNSET
    error: None | str | Unset = UNSET
    event_seq: int | None | Unset = UNSET
    last_status: int | None | Unset = UNSET
    latency_ms: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        body = self.body.to_dict()

        created_at = self.created_at.isoformat()

        event_type = self.event_type

        id = self.id

        next_attempt_at = self.next_attempt_at.isoformat()

        status = self.status

        subscription_id = self.subscription_id

        delivered_at: None | str | Unset
        if isinstance(self.delivered_at, Unset):
            delivered_at = UNSET
        elif isinstance(self.delivered_at, datetime.datetime):
            delivered_at = self.delivered_at.isoformat()
        else:
            delivered_at = self.delivered_at

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        event_seq: int | None | Unset
        if isinstance(self.event_seq, Unset):
            event_seq = UNSET
        else:
            event_seq = self.event_seq

        last_status: int | None | Unset
        if isinstance(self.last_status, Unset):
            last_status = UNSET
        else:
            last_status = self.last_status

        latency_ms: int | None | Unset
        if isinstance(self.latency_ms, Unset):
            latency_ms = UNSET
        else:
            latency_ms = self.latency_ms

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt": attempt,
                "body": body,
                "created_at": created_at,
                "event_type": event_type,
                "id": id,
                "next_attempt_at": next_attempt_at,
                "status": status,
                "subscription_id": subscription_id,
            }
        )
        if delivered_at is not UNSET:
            field_dict["delivered_at"] = delivered_at
        if error is not UNSET:
            field_dict["error"] = error
        if event_seq is not UNSET:
            field_dict["event_seq"] = event_seq
        if last_status is not UNSET:
            field_dict["last_status"] = last_status
        if latency_ms is not UNSET:
            field_dict["latency_ms"] = latency_ms

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.delivery_dto_body import DeliveryDtoBody  # noqa: PLC0415

        d = dict(src_dict)
        attempt = d.pop("attempt")

        body = DeliveryDtoBody.from_dict(d.pop("body"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        event_type = d.pop("event_type")

        id = d.pop("id")

        next_attempt_at = datetime.datetime.fromisoformat(d.pop("next_attempt_at"))

        status = d.pop("status")

        subscription_id = d.pop("subscription_id")

        def _parse_delivered_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                delivered_at_type_0 = datetime.datetime.fromisoformat(data)

                return delivered_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        delivered_at = _parse_delivered_at(d.pop("delivered_at", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_event_seq(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        event_seq = _parse_event_seq(d.pop("event_seq", UNSET))

        def _parse_last_status(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        last_status = _parse_last_status(d.pop("last_status", UNSET))

        def _parse_latency_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        latency_ms = _parse_latency_ms(d.pop("latency_ms", UNSET))

        delivery_dto = cls(
            attempt=attempt,
            body=body,
            created_at=created_at,
            event_type=event_type,
            id=id,
            next_attempt_at=next_attempt_at,
            status=status,
            subscription_id=subscription_id,
            delivered_at=delivered_at,
            error=error,
            event_seq=event_seq,
            last_status=last_status,
            latency_ms=latency_ms,
        )

        delivery_dto.additional_properties = d
        return delivery_dto

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
