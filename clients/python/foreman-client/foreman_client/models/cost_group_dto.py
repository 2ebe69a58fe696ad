from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="CostGroupDto")


@_attrs_define
class CostGroupDto:
    """Sums of one group.

    Attributes:
        cache_read_tokens (int): Tokens read from the prompt cache.
        cache_write_tokens (int): Tokens written to the prompt cache.
        calls (int): LLM calls.
        cost_usd (float): Cost in USD.
        key (str): The day (`2026-12-07`), model, role, runner, project or ticket id; `""` for calls
            without one (a deleted ticket's calls have no project).
        tokens_input (int): Uncached input tokens.
        tokens_output (int): Output tokens.
    """

    cache_read_tokens: int
    cache_write_tokens: int
    calls: int
    cost_usd: float
    key: str
    tokens_input: int
    tokens_output: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cache_read_tokens = self.cache_read_tokens

        cache_write_tokens = self.cache_write_tokens

        calls = self.calls

        cost_usd = self.cost_usd

        key = self.key

        tokens_input = self.tokens_input

        tokens_output = self.tokens_output

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cache_read_tokens": cache_read_tokens,
                "cache_write_tokens": cache_write_tokens,
                "calls": calls,
                "cost_usd": cost_usd,
                "key": key,
                "tokens_input": tokens_input,
                "tokens_output": tokens_output,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cache_read_tokens = d.pop("cache_read_tokens")

        cache_write_tokens = d.pop("cache_write_tokens")

        calls = d.pop("calls")

        cost_usd = d.pop("cost_usd")

        key = d.pop("key")

        tokens_input = d.pop("tokens_input")

        tokens_output = d.pop("tokens_output")

        cost_group_dto = cls(
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            calls=calls,
            cost_usd=cost_usd,
            key=key,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
        )

        cost_group_dto.additional_properties = d
        return cost_group_dto

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
