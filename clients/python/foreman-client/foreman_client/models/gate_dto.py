from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GateDto")


@_attrs_define
class GateDto:
    """One gate's first-pass figures.

    Attributes:
        first_pass (int): Of those, passed at the first verdict.
        gate (str): `tdd_red`, `tdd_green`, `lint`, `tests`, `spec_review`, `quality_review` or
            `final_review`. Example: lint.
        reached (int): Tasks (tickets for the final review) that reached it.
        first_pass_rate (float | None | Unset): `first_pass / reached`; `null` when none reached it.
    """

    first_pass: int
    gate: str
    reached: int
    first_pass_rate: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        first_pass = self.first_pass

        gate = self.gate

        reached = self.reached

        first_pass_rate: float | None | Unset
        if isinstance(self.first_pass_rate, Unset):
            first_pass_rate = UNSET
        else:
            first_pass_rate = self.first_pass_rate

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "first_pass": first_pass,
                "gate": gate,
                "reached": reached,
            }
        )
        if first_pass_rate is not UNSET:
            field_dict["first_pass_rate"] = first_pass_rate

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        first_pass = d.pop("first_pass")

        gate = d.pop("gate")

        reached = d.pop("reached")

        def _parse_first_pass_rate(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        first_pass_rate = _parse_first_pass_rate(d.pop("first_pass_rate", UNSET))

        gate_dto = cls(
            first_pass=first_pass,
            gate=gate,
            reached=reached,
            first_pass_rate=first_pass_rate,
        )

        gate_dto.additional_properties = d
        return gate_dto

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
