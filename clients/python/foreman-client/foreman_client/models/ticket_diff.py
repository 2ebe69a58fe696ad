from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.task_diff import TaskDiff


T = TypeVar("T", bound="TicketDiff")


@_attrs_define
class TicketDiff:
    """A ticket's change: whole and per task.

    Attributes:
        base (str): What the diff is against. Example: the merge base with origin/main.
        branch (str): Its branch.
        diff (str): Unified diff of the branch against its base (what the pull request shows).
        tasks (list[TaskDiff]): Each completed task's change, in completion order.
        ticket_id (str): The ticket.
        total_bytes (int): The full diff's size in bytes.
        truncated (bool): Whether `diff` was cut.
        note (None | str | Unset): Why the text was cut, when it was.
    """

    base: str
    branch: str
    diff: str
    tasks: list[TaskDiff]
    ticket_id: str
    total_bytes: int
    truncated: bool
    note: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        base = self.base

        branch = self.branch

        diff = self.diff

        tasks = []
        for tasks_item_data in self.tasks:
            tasks_item = tasks_item_data.to_dict()
            tasks.append(tasks_item)

        ticket_id = self.ticket_id

        total_bytes = self.total_bytes

        truncated = self.truncated

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "base": base,
                "branch": branch,
                "diff": diff,
                "tasks": tasks,
                "ticket_id": ticket_id,
                "total_bytes": total_bytes,
                "truncated": truncated,
            }
        )
        if note is not UNSET:
            field_dict["note"] = note

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.task_diff import TaskDiff  # noqa: PLC0415

        d = dict(src_dict)
        base = d.pop("base")

        branch = d.pop("branch")

        diff = d.pop("diff")

        tasks = []
        _tasks = d.pop("tasks")
        for tasks_item_data in _tasks:
            tasks_item = TaskDiff.from_dict(tasks_item_data)

            tasks.append(tasks_item)

        ticket_id = d.pop("ticket_id")

        total_bytes = d.pop("total_bytes")

        truncated = d.pop("truncated")

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        ticket_diff = cls(
            base=base,
            branch=branch,
            diff=diff,
            tasks=tasks,
            ticket_id=ticket_id,
            total_bytes=total_bytes,
            truncated=truncated,
            note=note,
        )

        ticket_diff.additional_properties = d
        return ticket_diff

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
