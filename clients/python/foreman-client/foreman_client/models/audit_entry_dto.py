from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AuditEntryDto")


@_attrs_define
class AuditEntryDto:
    """One recorded call.

    Attributes:
        action (str): Dotted action, e.g. `ticket.cancel`. Example: ticket.cancel.
        at (datetime.datetime): When the call was answered.
        hash_ (str): This entry's hash (hex SHA-256 of its canonical form).
        outcome (str): `ok`, `denied` (401, 403) or `error`. Example: ok.
        prev_hash (str): The previous entry's hash (hex SHA-256).
        seq (int): Position in the chain, from 1.
        status (int): The HTTP status of the answer.
        via (str): `api`, `mcp`, `channel` or `webhook`.
        actor (None | str | Unset): The token's name; `null` when the caller is unknown (401, tracker webhooks).
        client_addr (None | str | Unset): The client address.
        request_id (None | str | Unset): The request's `X-Request-Id`.
        resource (None | str | Unset): What was acted on, e.g. `ticket/42`. Example: ticket/42.
        token_id (None | str | Unset): The stored token's id; `null` for the dashboard token or an unknown caller.
    """

    action: str
    at: datetime.datetime
    hash_: str
    outcome: str
    prev_hash: str
    seq: int
    status: int
    via: str
    actor: None | str | Unset = UNSET
    client_addr: None | str | Unset = UNSET
    request_id: None | str | Unset = UNSET
    resource: None | str | Unset = UNSET
    token_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        action = self.action

        at = self.at.isoformat()

        hash_ = self.hash_

        outcome = self.outcome

        prev_hash = self.prev_hash

        seq = self.seq

        status = self.status

        via = self.via

        actor: None | str | Unset
        if isinstance(self.actor, Unset):
            actor = UNSET
        else:
            actor = self.actor

        client_addr: None | str | Unset
        if isinstance(self.client_addr, Unset):
            client_addr = UNSET
        else:
            client_addr = self.client_addr

        request_id: None | str | Unset
        if isinstance(self.request_id, Unset):
            request_id = UNSET
        else:
            request_id = self.request_id

        resource: None | str | Unset
        if isinstance(self.resource, Unset):
            resource = UNSET
        else:
            resource = self.resource

        token_id: None | str | Unset
        if isinstance(self.token_id, Unset):
            token_id = UNSET
        else:
            token_id = self.token_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "at": at,
                "hash": hash_,
                "outcome": outcome,
                "prev_hash": prev_hash,
                "seq": seq,
                "status": status,
                "via": via,
            }
        )
        if actor is not UNSET:
            field_dict["actor"] = actor
        if client_addr is not UNSET:
            field_dict["client_addr"] = client_addr
        if request_id is not UNSET:
            field_dict["request_id"] = request_id
        if resource is not UNSET:
            field_dict["resource"] = resource
        if token_id is not UNSET:
            field_dict["token_id"] = token_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = d.pop("action")

        at = datetime.datetime.fromisoformat(d.pop("at"))

        hash_ = d.pop("hash")

        outcome = d.pop("outcome")

        prev_hash = d.pop("prev_hash")

        seq = d.pop("seq")

        status = d.pop("status")

        via = d.pop("via")

        def _parse_actor(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        actor = _parse_actor(d.pop("actor", UNSET))

        def _parse_client_addr(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        client_addr = _parse_client_addr(d.pop("client_addr", UNSET))

        def _parse_request_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        request_id = _parse_request_id(d.pop("request_id", UNSET))

        def _parse_resource(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        resource = _parse_resource(d.pop("resource", UNSET))

        def _parse_token_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        token_id = _parse_token_id(d.pop("token_id", UNSET))

        audit_entry_dto = cls(
            action=action,
            at=at,
            hash_=hash_,
            outcome=outcome,
            prev_hash=prev_hash,
            seq=seq,
            status=status,
            via=via,
            actor=actor,
            client_addr=client_addr,
            request_id=request_id,
            resource=resource,
            token_id=token_id,
        )

        audit_entry_dto.additional_properties = d
        return audit_entry_dto

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
