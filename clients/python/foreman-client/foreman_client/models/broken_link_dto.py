from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="BrokenLinkDto")


@_attrs_define
class BrokenLinkDto:
    """The first link of the chain that does not hold.

    Attributes:
        reason (str): `hash_mismatch` (the entry was changed), `prev_hash_mismatch` (it does not link to the
            entry before), `missing` (entries before it were removed), `checkpoint_signature` (the
            checkpoint is not signed by this server's key) or `no_key`. Example: hash_mismatch.
        seq (int): The entry (or checkpoint) where the chain breaks.
    """

    reason: str
    seq: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        reason = self.reason

        seq = self.seq

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "reason": reason,
                "seq": seq,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        reason = d.pop("reason")

        seq = d.pop("seq")

        broken_link_dto = cls(
            reason=reason,
            seq=seq,
        )

        broken_link_dto.additional_properties = d
        return broken_link_dto

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
