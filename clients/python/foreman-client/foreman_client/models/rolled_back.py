from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.checkpoint_view import CheckpointView


T = TypeVar("T", bound="RolledBack")


@_attrs_define
class RolledBack:
    """What a rollback did.

    Attributes:
        branch_reset (bool): Whether the ticket branch was moved to the checkpoint's commit (false when the server
            has no repository for the project).
        checkpoint (CheckpointView): A checkpoint: a completed task of the ticket.
        checkpoints_dropped (list[str]): The checkpoints dropped with them.
        from_ (str): The status it left.
        status (str): Its status now (`queued`).
        tasks_reset (list[str]): The tasks put back to `pending`.
        ticket_id (str): The ticket.
    """

    branch_reset: bool
    checkpoint: CheckpointView
    checkpoints_dropped: list[str]
    from_: str
    status: str
    tasks_reset: list[str]
    ticket_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        branch_reset = self.branch_reset

        checkpoint = self.checkpoint.to_dict()

        checkpoints_dropped = self.checkpoints_dropped

        from_ = self.from_

        status = self.status

        tasks_reset = self.tasks_reset

        ticket_id = self.ticket_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "branch_reset": branch_reset,
                "checkpoint": checkpoint,
                "checkpoints_dropped": checkpoints_dropped,
                "from": from_,
                "status": status,
                "tasks_reset": tasks_reset,
                "ticket_id": ticket_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.checkpoint_view import CheckpointView  # noqa: PLC0415

        d = dict(src_dict)
        branch_reset = d.pop("branch_reset")

        checkpoint = CheckpointView.from_dict(d.pop("checkpoint"))

        checkpoints_dropped = cast(list[str], d.pop("checkpoints_dropped"))

        from_ = d.pop("from")

        status = d.pop("status")

        tasks_reset = cast(list[str], d.pop("tasks_reset"))

        ticket_id = d.pop("ticket_id")

        rolled_back = cls(
            branch_reset=branch_reset,
            checkpoint=checkpoint,
            checkpoints_dropped=checkpoints_dropped,
            from_=from_,
            status=status,
            tasks_reset=tasks_reset,
            ticket_id=ticket_id,
        )

        rolled_back.additional_properties = d
        return rolled_back

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
