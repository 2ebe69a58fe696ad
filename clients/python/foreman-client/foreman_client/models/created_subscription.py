from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreatedSubscription")


@_attrs_define
class CreatedSubscription:
    """A created subscription with its secret (shown this once).

    Attributes:
        consecutive_failures (int): Failed deliveries since the last success.
        created_at (datetime.datetime): Created.
        enabled (bool): Whether deliveries are made.
        events (list[str]): Glob patterns over event types (`*` any characters). Example: ['ticket_*', 'task_*_fail'].
        id (str): Its id (`ticket-<ticket id>` for a ticket's `webhook_url`).
        source (str): `api`, or `ticket` for a ticket's `webhook_url`.
        updated_at (datetime.datetime): Last changed.
        url (str): Where deliveries go. Example: https://hooks.example.com/foreman.
        secret (str): The signing secret: HMAC-SHA256 key of `X-Foreman-Signature`.
        disabled_reason (None | str | Unset): Why it was disabled automatically.
        project (None | str | Unset): Only events of this project's tickets.
        secret_prefix (None | str | Unset): The secret's first characters (`null`: a ticket's webhook, signed with the
            server's
            `[webhooks] ticket_secret` or unsigned).
        ticket_id (None | str | Unset): Only this ticket's events.
    """

    consecutive_failures: int
    created_at: datetime.datetime
    enabled: bool
    events: list[str]
    id: str
    source: str
    updated_at: datetime.datetime
    url: str
    secret: str
    disabled_reason: None | str | Unset = UNSET
    project: None | str | Unset = UNSET
    secret_prefix: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        consecutive_failures = self.consecutive_failures

        created_at = self.created_at.isoformat()

        enabled = self.enabled

        events = self.events

        id = self.id

        source = self.source

        updated_at = self.updated_at.isoformat()

        url = self.url

        secret = self.secret

        disabled_reason: None | str | Unset
        if isinstance(self.disabled_reason, Unset):
            disabled_reason = UNSET
        else:
            disabled_reason = self.disabled_reason

        project: None | str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        secret_prefix: None | str | Unset
        if isinstance(self.secret_prefix, Unset):
            secret_prefix = UNSET
        else:
            secret_prefix = self.secret_prefix

        ticket_id: None | str | Unset
        if isinstance(self.ticket_id, Unset):
            ticket_id = UNSET
        else:
            ticket_id = self.ticket_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "consecutive_failures": consecutive_failures,
                "created_at": created_at,
                "enabled": enabled,
                "events": events,
                "id": id,
                "source": source,
                "updated_at": updated_at,
                "url": url,
                "secret": secret,
            }
        )
        if disabled_reason is not UNSET:
            field_dict["disabled_reason"] = disabled_reason
        if project is not UNSET:
            field_dict["project"] = project
        if secret_prefix is not UNSET:
            field_dict["secret_prefix"] = secret_prefix
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        consecutive_failures = d.pop("consecutive_failures")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        enabled = d.pop("enabled")

        events = cast(list[str], d.pop("events"))

        id = d.pop("id")

        source = d.pop("source")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        url = d.pop("url")

        secret = d.pop("secret")

        def _parse_disabled_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        disabled_reason = _parse_disabled_reason(d.pop("disabled_reason", UNSET))

        def _parse_project(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        def _parse_secret_prefix(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret_prefix = _parse_secret_prefix(d.pop("secret_prefix", UNSET))

        def _parse_ticket_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_id = _parse_ticket_id(d.pop("ticket_id", UNSET))

        created_subscription = cls(
            consecutive_failures=consecutive_failures,
            created_at=created_at,
            enabled=enabled,
            events=events,
            id=id,
            source=source,
            updated_at=updated_at,
            url=url,
            secret=secret,
            disabled_reason=disabled_reason,
            project=project,
            secret_prefix=secret_prefix,
            ticket_id=ticket_id,
        )

        created_subscription.additional_properties = d
        return created_subscription

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
