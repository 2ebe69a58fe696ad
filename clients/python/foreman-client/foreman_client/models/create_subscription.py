from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateSubscription")


@_attrs_define
class CreateSubscription:
    """A subscription to create.

    Attributes:
        events (list[str]): 1 to 32 glob patterns over event types (`a-z`, `0-9`, `_`, `*`), each matching at least
            one event type (or `ping`). Example: ['ticket_*', 'task_*_fail'].
        url (str): `http` or `https` URL (at most 2048 characters). Example: https://hooks.example.com/foreman.
        enabled (bool | None | Unset): Default true.
        project (None | str | Unset): Only events of this project's tickets.
        secret (None | str | Unset): 16 to 256 characters; generated when absent.
        ticket_id (None | str | Unset): Only this ticket's events.
    """

    events: list[str]
    url: str
    enabled: bool | None | Unset = UNSET
    project: None | str | Unset = UNSET
    secret: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        events = self.events

        url = self.url

        enabled: bool | None | Unset
        if isinstance(self.enabled, Unset):
            enabled = UNSET
        else:
            enabled = self.enabled

        project: None | str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        secret: None | str | Unset
        if isinstance(self.secret, Unset):
            secret = UNSET
        else:
            secret = self.secret

        ticket_id: None | str | Unset
        if isinstance(self.ticket_id, Unset):
            ticket_id = UNSET
        else:
            ticket_id = self.ticket_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
                "url": url,
            }
        )
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if project is not UNSET:
            field_dict["project"] = project
        if secret is not UNSET:
            field_dict["secret"] = secret
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        events = cast(list[str], d.pop("events"))

        url = d.pop("url")

        def _parse_enabled(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        enabled = _parse_enabled(d.pop("enabled", UNSET))

        def _parse_project(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        def _parse_secret(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret = _parse_secret(d.pop("secret", UNSET))

        def _parse_ticket_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_id = _parse_ticket_id(d.pop("ticket_id", UNSET))

        create_subscription = cls(
            events=events,
            url=url,
            enabled=enabled,
            project=project,
            secret=secret,
            ticket_id=ticket_id,
        )

        return create_subscription
