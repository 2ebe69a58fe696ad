from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.llm_call_dto_status import LlmCallDtoStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="LlmCallDto")


@_attrs_define
class LlmCallDto:
    """A recorded LLM call.

    Attributes:
        attempt (int): Attempt number.
        cache_read_tokens (int): Prompt-cache reads.
        cache_write_tokens (int): Prompt-cache writes.
        cost_usd (float): Cost in USD.
        created_at (datetime.datetime): Recorded.
        duration_ms (int): Wall time.
        id (str): Id.
        model (str): Model.
        provider (str): Provider.
        role (str): Pipeline role.
        runner (str): Runner.
        status (LlmCallDtoStatus): llm call outcome
        tokens_input (int): Input tokens.
        tokens_output (int): Output tokens.
        error (None | str | Unset): Error text for failed calls.
        prompt_version (None | str | Unset): Prompt template hash.
        task_id (None | str | Unset): Task.
        ticket_id (None | str | Unset): Ticket.
    """

    attempt: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    created_at: datetime.datetime
    duration_ms: int
    id: str
    model: str
    provider: str
    role: str
    runner: str
    status: LlmCallDtoStatus
    tokens_input: int
    tokens_output: int
    error: None | str | Unset = UNSET
    prompt_version: None | str | Unset = UNSET
    task_id: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        cache_read_tokens = self.cache_read_tokens

        cache_write_tokens = self.cache_write_tokens

        cost_usd = self.cost_usd

        created_at = self.created_at.isoformat()

        duration_ms = self.duration_ms

        id = self.id

        model = self.model

        provider = self.provider

        role = self.role

        runner = self.runner

        status = self.status.value

        tokens_input = self.tokens_input

        tokens_output = self.tokens_output

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        prompt_version: None | str | Unset
        if isinstance(self.prompt_version, Unset):
            prompt_version = UNSET
        else:
            prompt_version = self.prompt_version

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
                "attempt": attempt,
                "cache_read_tokens": cache_read_tokens,
                "cache_write_tokens": cache_write_tokens,
                "cost_usd": cost_usd,
                "created_at": created_at,
                "duration_ms": duration_ms,
                "id": id,
                "model": model,
                "provider": provider,
                "role": role,
                "runner": runner,
                "status": status,
                "tokens_input": tokens_input,
                "tokens_output": tokens_output,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if prompt_version is not UNSET:
            field_dict["prompt_version"] = prompt_version
        if task_id is not UNSET:
            field_dict["task_id"] = task_id
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempt = d.pop("attempt")

        cache_read_tokens = d.pop("cache_read_tokens")

        cache_write_tokens = d.pop("cache_write_tokens")

        cost_usd = d.pop("cost_usd")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        duration_ms = d.pop("duration_ms")

        id = d.pop("id")

        model = d.pop("model")

        provider = d.pop("provider")

        role = d.pop("role")

        runner = d.pop("runner")

        status = LlmCallDtoStatus(d.pop("status"))

        tokens_input = d.pop("tokens_input")

        tokens_output = d.pop("tokens_output")

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_prompt_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        prompt_version = _parse_prompt_version(d.pop("prompt_version", UNSET))

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

        llm_call_dto = cls(
            attempt=attempt,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cost_usd=cost_usd,
            created_at=created_at,
            duration_ms=duration_ms,
            id=id,
            model=model,
            provider=provider,
            role=role,
            runner=runner,
            status=status,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
            error=error,
            prompt_version=prompt_version,
            task_id=task_id,
            ticket_id=ticket_id,
        )

        llm_call_dto.additional_properties = d
        return llm_call_dto

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
