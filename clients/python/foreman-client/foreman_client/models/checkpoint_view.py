from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="CheckpointView")


@_attrs_define
class CheckpointView:
    """A checkpoint: a completed task of the ticket.

    Attributes:
        branch (str): The pushed branch holding the commit.
        commit_sha (str): Its commit.
        created_at (datetime.datetime): When the task completed.
        id (str): Checkpoint id (what `POST /api/tickets/{id}/rollback` takes).
        sequence (int): Its sequence in the plan.
        task (str): Its title.
        task_id (str): The task.
        ticket_status (str): The ticket's status when the task completed.
    """

    branch: str
    commit_sha: str
    created_at: datetime.datetime
    id: str
    sequence: int
    task: str
    task_id: str
    ticket_status: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        branch = self.branch

        commit_sha = self.commit_sha

        created_at = self.created_at.isoformat()

        id = self.id

        sequence = self.sequence

        task = self.task

        task_id = self.task_id

        ticket_status = self.ticket_status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "branch": branch,
                "commit_sha": commit_sha,
                "created_at": created_at,
                "id": id,
                "sequence": sequence,
                "task": task,
                "task_id": task_id,
                "ticket_status": ticket_status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        branch = d.pop("branch")

        commit_sha = d.pop("commit_sha")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        id = d.pop("id")

        sequence = d.pop("sequence")

        task = d.pop("task")

        task_id = d.pop("task_id")

        ticket_status = d.pop("ticket_status")

        checkpoint_view = cls(
            branch=branch,
            commit_sha=commit_sha,
            created_at=created_at,
            id=id,
            sequence=sequence,
            task=task,
            task_id=task_id,
            ticket_status=ticket_status,
        )

        checkpoint_view.additional_properties = d
        return checkpoint_view

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
