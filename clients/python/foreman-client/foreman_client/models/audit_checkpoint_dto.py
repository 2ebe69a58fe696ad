from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="AuditCheckpointDto")


@_attrs_define
class AuditCheckpointDto:
    """The checkpoint pruning left, which verification starts from.

    Attributes:
        created_at (datetime.datetime): When it was written.
        hash_ (str): Its hash.
        pruned_before (datetime.datetime): Entries answered before this time were pruned.
        seq (int): The last pruned entry; the chain goes on at `seq + 1`.
    """

    created_at: datetime.datetime
    hash_: str
    pruned_before: datetime.datetime
    seq: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        hash_ = self.hash_

        pruned_before = self.pruned_before.isoformat()

        seq = self.seq

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "hash": hash_,
                "pruned_before": pruned_before,
                "seq": seq,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        hash_ = d.pop("hash")

        pruned_before = datetime.datetime.fromisoformat(d.pop("pruned_before"))

        seq = d.pop("seq")

        audit_checkpoint_dto = cls(
            created_at=created_at,
            hash_=hash_,
            pruned_before=pruned_before,
            seq=seq,
        )

        audit_checkpoint_dto.additional_properties = d
        return audit_checkpoint_dto

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
