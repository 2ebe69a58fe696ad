from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="RollbackRequest")


@_attrs_define
class RollbackRequest:
    """The checkpoint to roll back to.

    Attributes:
        checkpoint_id (str): A checkpoint id of this ticket (`GET /api/tickets/{id}/checkpoints`).
    """

    checkpoint_id: str

    def to_dict(self) -> dict[str, Any]:
        checkpoint_id = self.checkpoint_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "checkpoint_id": checkpoint_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        checkpoint_id = d.pop("checkpoint_id")

        rollback_request = cls(
            checkpoint_id=checkpoint_id,
        )

        return rollback_request
