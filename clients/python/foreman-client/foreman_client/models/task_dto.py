from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.task_dto_status import TaskDtoStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="TaskDto")


@_attrs_define
class TaskDto:
    """A task.

    Attributes:
        cost_usd (float): Spend in USD.
        created_at (datetime.datetime): Created.
        depends_on (list[int]): Sequences this task depends on.
        description (str): What to do.
        files (list[str]): Files the plan expects it to touch.
        id (str): Id.
        implementation_attempts (int): Implementation attempts.
        quality_review_attempts (int): Quality review rounds.
        sequence (int): 1-based position in the plan.
        spec_review_attempts (int): Spec review rounds.
        status (TaskDtoStatus): task status
        ticket_id (str): Owning ticket.
        title (str): Title.
        tokens_input (int): Input tokens.
        tokens_output (int): Output tokens.
        total_llm_calls (int): LLM calls recorded.
        commit_sha (None | str | Unset): Commit on its branch, once done.
        completed_at (datetime.datetime | None | Unset): Finished.
        last_error (None | str | Unset): Last error.
        started_at (datetime.datetime | None | Unset): Started.
    """

    cost_usd: float
    created_at: datetime.datetime
    depends_on: list[int]
    description: str
    files: list[str]
    id: str
    implementation_attempts: int
    quality_review_attempts: int
    sequence: int
    spec_review_attempts: int
    status: TaskDtoStatus
    ticket_id: str
    title: str
    tokens_input: int
    tokens_output: int
    total_llm_calls: int
    commit_sha: None | str | Unset = UNSET
    completed_at: datetime.datetime | None | Unset = UNSET
    last_error: None | str | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        created_at = self.created_at.isoformat()

        depends_on = self.depends_on

        description = self.description

        files = self.files

        id = self.id

        implementation_attempts = self.implementation_attempts

        quality_review_attempts = self.quality_review_attempts

        sequence = self.sequence

        spec_review_attempts = self.spec_review_attempts

        status = self.status.value

        ticket_id = self.ticket_id

        title = self.title

        tokens_input = self.tokens_input

        tokens_output = self.tokens_output

        total_llm_calls = self.total_llm_calls

        commit_sha: None | str | Unset
        if isinstance(self.commit_sha, Unset):
            commit_sha = UNSET
        else:
            commit_sha = self.commit_sha

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        elif isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cost_usd": cost_usd,
                "created_at": created_at,
                "depends_on": depends_on,
                "description": description,
                "files": files,
                "id": id,
                "implementation_attempts": implementation_attempts,
                "quality_review_attempts": quality_review_attempts,
                "sequence": sequence,
                "spec_review_attempts": spec_review_attempts,
                "status": status,
                "ticket_id": ticket_id,
                "title": title,
                "tokens_input": tokens_input,
                "tokens_output": tokens_output,
                "total_llm_calls": total_llm_calls,
            }
        )
        if commit_sha is not UNSET:
            field_dict["commit_sha"] = commit_sha
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if started_at is not UNSET:
            field_dict["started_at"] = started_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        depends_on = cast(list[int], d.pop("depends_on"))

        description = d.pop("description")

        files = cast(list[str], d.pop("files"))

        id = d.pop("id")

        implementation_attempts = d.pop("implementation_attempts")

        quality_review_attempts = d.pop("quality_review_attempts")

        sequence = d.pop("sequence")

        spec_review_attempts = d.pop("spec_review_attempts")

        status = TaskDtoStatus(d.pop("status"))

        ticket_id = d.pop("ticket_id")

        title = d.pop("title")

        tokens_input = d.pop("tokens_input")

        tokens_output = d.pop("tokens_output")

        total_llm_calls = d.pop("total_llm_calls")

        def _parse_commit_sha(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        commit_sha = _parse_commit_sha(d.pop("commit_sha", UNSET))

        def _parse_completed_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)

                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        completed_at = _parse_completed_at(d.pop("completed_at", UNSET))

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

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

        task_dto = cls(
            cost_usd=cost_usd,
            created_at=created_at,
            depends_on=depends_on,
            description=description,
            files=files,
            id=id,
            implementation_attempts=implementation_attempts,
            quality_review_attempts=quality_review_attempts,
            sequence=sequence,
            spec_review_attempts=spec_review_attempts,
            status=status,
            ticket_id=ticket_id,
            title=title,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
            total_llm_calls=total_llm_calls,
            commit_sha=commit_sha,
            completed_at=completed_at,
            last_error=last_error,
            started_at=started_at,
        )

        task_dto.additional_properties = d
        return task_dto

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
