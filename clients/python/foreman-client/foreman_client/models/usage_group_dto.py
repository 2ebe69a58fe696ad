from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UsageGroupDto")


@_attrs_define
class UsageGroupDto:
    """Sums of one group.

    Attributes:
        cache_read_tokens (int): Tokens read from the prompt cache.
        cache_write_tokens (int): Tokens written to the prompt cache.
        calls (int): Calls.
        cost_usd (float): Cost in USD.
        input_tokens (int): Uncached input tokens.
        key (str): The model, project, ticket id, session tag or day (`2026-12-07`); `""` for calls without
            one.
        output_tokens (int): Output tokens.
    """

    cache_read_tokens: int
    cache_write_tokens: int
    calls: int
    cost_usd: float
    input_tokens: int
    key: str
    output_tokens: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cache_read_tokens = self.cache_read_tokens

        cache_write_tokens = self.cache_write_tokens

        calls = self.calls

        cost_usd = self.cost_usd

        input_tokens = self.input_tokens

        key = self.key

        output_tokens = self.output_tokens

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cache_read_tokens": cache_read_tokens,
                "cache_write_tokens": cache_write_tokens,
                "calls": calls,
                "cost_usd": cost_usd,
                "input_tokens": input_tokens,
                "key": key,
                "output_tokens": output_tokens,
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

        input_tokens = d.pop("input_tokens")

        key = d.pop("key")

        output_tokens = d.pop("output_tokens")

        usage_group_dto = cls(
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            calls=calls,
            cost_usd=cost_usd,
            input_tokens=input_tokens,
            key=key,
            output_tokens=output_tokens,
        )

        usage_group_dto.additional_properties = d
        return usage_group_dto

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
