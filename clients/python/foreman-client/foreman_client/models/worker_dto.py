from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="WorkerDto")


@_attrs_define
class WorkerDto:
    """One execution slot.

    Attributes:
        busy (bool): Whether it runs a ticket.
        completed (int): Tickets the slot has finished running since the daemon started.
        name (str): `<worker id>/slot-<n>`.
        branch (None | str | Unset): The ticket's branch.
        external_id (None | str | Unset): That ticket's tracker id.
        stage (None | str | Unset): Where the work stands: the task's status while a task is worked on, else the
            ticket's.
        started_at (datetime.datetime | None | Unset): When the slot took the ticket.
        task_id (None | str | Unset): The task being worked on (the first in a working status), if any.
        task_sequence (int | None | Unset): That task's place in the plan.
        ticket_id (None | str | Unset): The ticket it runs.
        ticket_status (None | str | Unset): The ticket's status.
        title (None | str | Unset): That ticket's title.
        worktree_path (None | str | Unset): The worktree the work happens in (the latest one created for the ticket).
    """

    busy: bool
    completed: int
    name: str
    branch: None | str | Unset = UNSET
    external_id: None | str | Unset = UNSET
    stage: None | str | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    task_id: None | str | Unset = UNSET
    task_sequence: int | None | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    ticket_status: None | str | Unset = UNSET
    title: None | str | Unset = UNSET
    worktree_path: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        busy = self.busy

        completed = self.completed

        name = self.name

        branch: None | str | Unset
        if isinstance(self.branch, Unset):
            branch = UNSET
        else:
            branch = self.branch

        external_id: None | str | Unset
        if isinstance(self.external_id, Unset):
            external_id = UNSET
        else:
            external_id = self.external_id

        stage: None | str | Unset
        if isinstance(self.stage, Unset):
            stage = UNSET
        else:
            stage = self.stage

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        task_id: None | str | Unset
        if isinstance(self.task_id, Unset):
            task_id = UNSET
        else:
            task_id = self.task_id

        task_sequence: int | None | Unset
        if isinstance(self.task_sequence, Unset):
            task_sequence = UNSET
        else:
            task_sequence = self.task_sequence

        ticket_id: None | str | Unset
        if isinstance(self.ticket_id, Unset):
            ticket_id = UNSET
        else:
            ticket_id = self.ticket_id

        ticket_status: None | str | Unset
        if isinstance(self.ticket_status, Unset):
            ticket_status = UNSET
        else:
            ticket_status = self.ticket_status

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        worktree_path: None | str | Unset
        if isinstance(self.worktree_path, Unset):
            worktree_path = UNSET
        else:
            worktree_path = self.worktree_path

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "busy": busy,
                "completed": completed,
                "name": name,
            }
        )
        if branch is not UNSET:
            field_dict["branch"] = branch
        if external_id is not UNSET:
            field_dict["external_id"] = external_id
        if stage is not UNSET:
            field_dict["stage"] = stage
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if task_id is not UNSET:
            field_dict["task_id"] = task_id
        if task_sequence is not UNSET:
            field_dict["task_sequence"] = task_sequence
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id
        if ticket_status is not UNSET:
            field_dict["ticket_status"] = ticket_status
        if title is not UNSET:
            field_dict["title"] = title
        if worktree_path is not UNSET:
            field_dict["worktree_path"] = worktree_path

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        busy = d.pop("busy")

        completed = d.pop("completed")

        name = d.pop("name")

        def _parse_branch(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        branch = _parse_branch(d.pop("branch", UNSET))

        def _parse_external_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        external_id = _parse_external_id(d.pop("external_id", UNSET))

        def _parse_stage(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        stage = _parse_stage(d.pop("stage", UNSET))

        def _parse_started_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)

                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))

        def _parse_task_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        task_id = _parse_task_id(d.pop("task_id", UNSET))

        def _parse_task_sequence(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        task_sequence = _parse_task_sequence(d.pop("task_sequence", UNSET))

        def _parse_ticket_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_id = _parse_ticket_id(d.pop("ticket_id", UNSET))

        def _parse_ticket_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_status = _parse_ticket_status(d.pop("ticket_status", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        def _parse_worktree_path(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        worktree_path = _parse_worktree_path(d.pop("worktree_path", UNSET))

        worker_dto = cls(
            busy=busy,
            completed=completed,
            name=name,
            branch=branch,
            external_id=external_id,
            stage=stage,
            started_at=started_at,
            task_id=task_id,
            task_sequence=task_sequence,
            ticket_id=ticket_id,
            ticket_status=ticket_status,
            title=title,
            worktree_path=worktree_path,
        )

        worker_dto.additional_properties = d
        return worker_dto

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
