from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UsageRecordDto")


@_attrs_define
class UsageRecordDto:
    """One LLM call, Foreman's own or reported.

    Attributes:
        cache_read_tokens (int): Tokens read from the prompt cache.
        cache_write_tokens (int): Tokens written to the prompt cache.
        cost_usd (float): Cost in USD.
        id (str): The call's id.
        input_tokens (int): Uncached input tokens.
        model (str): Model name.
        output_tokens (int): Output tokens.
        provider (str): Provider name.
        role (str): Pipeline role (`external` for reported rows).
        runner (str): Runner (`external` for reported rows).
        source (str): `foreman` or `external`. Example: external.
        status (str): `success`, `error`, `rate_limited`, `timeout` or `budget_exceeded`.
        timestamp (datetime.datetime): When the call was made.
        client_id (None | str | Unset): The client's idempotency key of a reported row.
        project (None | str | Unset): The row's project, else its ticket's.
        session_tag (None | str | Unset): Session tag.
        task_id (None | str | Unset): The task it was made for.
        ticket_id (None | str | Unset): The ticket it is charged to.
    """

    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    id: str
    input_tokens: int
    model: str
    output_tokens: int
    provider: str
    role: str
    runner: str
    source: str
    status: str
    timestamp: datetime.datetime
    client_id: None | str | Unset = UNSET
    project: None | str | Unset = UNSET
    session_tag: None | str | Unset = UNSET
    task_id: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cache_read_tokens = self.cache_read_tokens

        cache_write_tokens = self.cache_write_tokens

        cost_usd = self.cost_usd

        id = self.id

        input_tokens = self.input_tokens

        model = self.model

        output_tokens = self.output_tokens

        provider = self.provider

        role = self.role

        runner = self.runner

        source = self.source

        status = self.status

        timestamp = self.timestamp.isoformat()

        client_id: None | str | Unset
        if isinstance(self.client_id, Unset):
            client_id = UNSET
        else:
            client_id = self.client_id

        project: None | str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        session_tag: None | str | Unset
        if isinstance(self.session_tag, Unset):
            session_tag = UNSET
        else:
            session_tag = self.session_tag

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
                "cache_read_tokens": cache_read_tokens,
                "cache_write_tokens": cache_write_tokens,
                "cost_usd": cost_usd,
                "id": id,
                "input_tokens": input_tokens,
                "model": model,
                "output_tokens": output_tokens,
                "provider": provider,
                "role": role,
                "runner": runner,
                "source": source,
                "status": status,
                "timestamp": timestamp,
            }
        )
        if client_id is not UNSET:
            field_dict["client_id"] = client_id
        if project is not UNSET:
            field_dict["project"] = project
        if session_tag is not UNSET:
            field_dict["session_tag"] = session_tag
        if task_id is not UNSET:
            field_dict["task_id"] = task_id
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cache_read_tokens = d.pop("cache_read_tokens")

        cache_write_tokens = d.pop("cache_write_tokens")

        cost_usd = d.pop("cost_usd")

        id = d.pop("id")

        input_tokens = d.pop("input_tokens")

        model = d.pop("model")

        output_tokens = d.pop("output_tokens")

        provider = d.pop("provider")

        role = d.pop("role")

        runner = d.pop("runner")

        source = d.pop("source")

        status = d.pop("status")

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        def _parse_client_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        client_id = _parse_client_id(d.pop("client_id", UNSET))

        def _parse_project(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        def _parse_session_tag(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        session_tag = _parse_session_tag(d.pop("session_tag", UNSET))

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

        usage_record_dto = cls(
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cost_usd=cost_usd,
            id=id,
            input_tokens=input_tokens,
            model=model,
            output_tokens=output_tokens,
            provider=provider,
            role=role,
            runner=runner,
            source=source,
            status=status,
            timestamp=timestamp,
            client_id=client_id,
            project=project,
            session_tag=session_tag,
            task_id=task_id,
            ticket_id=ticket_id,
        )

        usage_record_dto.additional_properties = d
        return usage_record_dto

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
