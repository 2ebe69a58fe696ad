from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RoleUsage")


@_attrs_define
class RoleUsage:
    """LLM usage by role (with the runner and model that served it).

    Attributes:
        calls (int): Calls.
        cost_usd (float): Spend in USD.
        model (str): `provider:model`.
        role (str): Pipeline role.
        runner (str): Runner.
        tokens_in (int): Input tokens.
        tokens_out (int): Output tokens.
    """

    calls: int
    cost_usd: float
    model: str
    role: str
    runner: str
    tokens_in: int
    tokens_out: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        calls = self.calls

        cost_usd = self.cost_usd

        model = self.model

        role = self.role

        runner = self.runner

        tokens_in = self.tokens_in

        tokens_out = self.tokens_out

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "calls": calls,
                "cost_usd": cost_usd,
                "model": model,
                "role": role,
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

        model = d.pop("model")

        role = d.pop("role")

        runner = d.pop("runner")

        tokens_in = d.pop("tokens_in")

        tokens_out = d.pop("tokens_out")

        role_usage = cls(
            calls=calls,
            cost_usd=cost_usd,
            model=model,
            role=role,
            runner=runner,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )

        role_usage.additional_properties = d
        return role_usage

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
