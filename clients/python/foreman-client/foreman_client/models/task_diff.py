from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TaskDiff")


@_attrs_define
class TaskDiff:
    """One task's change.

    Attributes:
        commit_sha (str): Its commit.
        diff (str): Unified diff of the task's change.
        sequence (int): Its sequence.
        task (str): Its title.
        task_id (str): The task.
        total_bytes (int): The full diff's size in bytes.
        truncated (bool): Whether `diff` was cut.
    """

    commit_sha: str
    diff: str
    sequence: int
    task: str
    task_id: str
    total_bytes: int
    truncated: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        commit_sha = self.commit_sha

        diff = self.diff

        sequence = self.sequence

        task = self.task

        task_id = self.task_id

        total_bytes = self.total_bytes

        truncated = self.truncated

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "commit_sha": commit_sha,
                "diff": diff,
                "sequence": sequence,
                "task": task,
                "task_id": task_id,
                "total_bytes": total_bytes,
                "truncated": truncated,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        commit_sha = d.pop("commit_sha")

        diff = d.pop("diff")

        sequence = d.pop("sequence")

        task = d.pop("task")

        task_id = d.pop("task_id")

        total_bytes = d.pop("total_bytes")

        truncated = d.pop("truncated")

        task_diff = cls(
            commit_sha=commit_sha,
            diff=diff,
            sequence=sequence,
            task=task,
            task_id=task_id,
            total_bytes=total_bytes,
            truncated=truncated,
        )

        task_diff.additional_properties = d
        return task_diff

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
