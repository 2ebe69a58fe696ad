from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RunnerUsage")


@_attrs_define
class RunnerUsage:
    """LLM usage by runner.

    Attributes:
        calls (int): Calls.
        cost_usd (float): Spend in USD.
        runner (str): Runner.
        tokens_in (int): Input tokens.
        tokens_out (int): Output tokens.
    """

    calls: int
    cost_usd: float
    runner: str
    tokens_in: int
    tokens_out: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        calls = self.calls

        cost_usd = self.cost_usd

        runner = self.runner

        tokens_in = self.tokens_in

        tokens_out = self.tokens_out

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "calls": calls,
                "cost_usd": cost_usd,
                "runner": runner,
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        calls = d.pop("calls")

        cost_usd = d.pop("cost_usd")

        runner = d.pop("runner")

        tokens_in = d.pop("tokens_in")

        tokens_out = d.pop("tokens_out")

        runner_usage = cls(
            calls=calls,
            cost_usd=cost_usd,
            runner=runner,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )

        runner_usage.additional_properties = d
        return runner_usage

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
