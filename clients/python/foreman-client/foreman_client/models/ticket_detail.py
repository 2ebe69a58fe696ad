from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.ticket_detail_status import TicketDetailStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="TicketDetail")


@_attrs_define
class TicketDetail:
    """A ticket in full.

    Attributes:
        acceptance_criteria (str): Acceptance criteria.
        branch_name (str): Ticket branch.
        cost_usd (float): Spend in USD.
        created_at (datetime.datetime): Created.
        description (str): Body.
        external_id (str): Tracker id.
        id (str): Internal id.
        is_partial (bool): Whether the pull request is partial.
        labels (list[str]): Labels.
        last_completed_task_seq (int): Highest completed task sequence.
        pr_url (str): Pull request URL (empty before one exists).
        priority (int): Priority.
        project (str): Project.
        status (TicketDetailStatus): ticket status
        title (str): Title.
        tokens_input (int): Input tokens.
        tokens_output (int): Output tokens.
        total_llm_calls (int): LLM calls recorded.
        updated_at (datetime.datetime): Last changed.
        agent (None | str | Unset): Coding agent runner asked for at submission (null: the project's).
        completed_at (datetime.datetime | None | Unset): Reached a terminal status.
        estimated_start (datetime.datetime | None | Unset): When it is expected to start; null unless `queued` or before
            any ticket has finished.
        last_error (None | str | Unset): Last error.
        last_error_type (None | str | Unset): Last error class.
        max_budget_usd (float | None | Unset): Its own budget in USD (null: the configured per-ticket limit only).
        parent_id (None | str | Unset): Parent ticket (decomposition).
        pr_number (int | None | Unset): Pull request number.
        queue_position (int | None | Unset): 1-based place in the queue, in claim order; null unless `queued`.
        started_at (datetime.datetime | None | Unset): Work started.
        submitter (None | str | Unset): Who asked for it.
        tags (list[str] | Unset): Tags given at submission.
        timeout (int | None | Unset): Seconds one of its tasks may take (null: the configured limits only).
        webhook_url (None | str | Unset): Webhook given at submission.
    """

    acceptance_criteria: str
    branch_name: str
    cost_usd: float
    created_at: datetime.datetime
    description: str
    external_id: str
    id: str
    is_partial: bool
    labels: list[str]
    last_completed_task_seq: int
    pr_url: str
    priority: int
    project: str
    status: TicketDetailStatus
    title: str
    tokens_input: int
    tokens_output: int
    total_llm_calls: int
    updated_at: datetime.datetime
    agent: None | str | Unset = UNSET
    completed_at: datetime.datetime | None | Unset = UNSET
    estimated_start: datetime.datetime | None | Unset = UNSET
    last_error: None | str | Unset = UNSET
    last_error_type: None | str | Unset = UNSET
    max_budget_usd: float | None | Unset = UNSET
    parent_id: None | str | Unset = UNSET
    pr_number: int | None | Unset = UNSET
    queue_position: int | None | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    submitter: None | str | Unset = UNSET
    tags: list[str] | Unset = UNSET
    timeout: int | None | Unset = UNSET
    webhook_url: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        acceptance_criteria = self.acceptance_criteria

        branch_name = self.branch_name

        cost_usd = self.cost_usd

        created_at = self.created_at.isoformat()

        description = self.description

        external_id = self.external_id

        id = self.id

        is_partial = self.is_partial

        labels = self.labels

        last_completed_task_seq = self.last_completed_task_seq

        pr_url = self.pr_url

        priority = self.priority

        project = self.project

        status = self.status.value

        title = self.title

        tokens_input = self.tokens_input

        tokens_output = self.tokens_output

        total_llm_calls = self.total_llm_calls

        updated_at = self.updated_at.isoformat()

        agent: None | str | Unset
        if isinstance(self.agent, Unset):
            agent = UNSET
        else:
            agent = self.agent

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        elif isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        estimated_start: None | str | Unset
        if isinstance(self.estimated_start, Unset):
            estimated_start = UNSET
        elif isinstance(self.estimated_start, datetime.datetime):
            estimated_start = self.estimated_start.isoformat()
        else:
            estimated_start = self.estimated_start

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        last_error_type: None | str | Unset
        if isinstance(self.last_error_type, Unset):
            last_error_type = UNSET
        else:
            last_error_type = self.last_error_type

        max_budget_usd: float | None | Unset
        if isinstance(self.max_budget_usd, Unset):
            max_budget_usd = UNSET
        else:
            max_budget_usd = self.max_budget_usd

        parent_id: None | str | Unset
        if isinstance(self.parent_id, Unset):
            parent_id = UNSET
        else:
            parent_id = self.parent_id

        pr_number: int | None | Unset
        if isinstance(self.pr_number, Unset):
            pr_number = UNSET
        else:
            pr_number = self.pr_number

        queue_position: int | None | Unset
        if isinstance(self.queue_position, Unset):
            queue_position = UNSET
        else:
            queue_position = self.queue_position

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        submitter: None | str | Unset
        if isinstance(self.submitter, Unset):
            submitter = UNSET
        else:
            submitter = self.submitter

        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        timeout: int | None | Unset
        if isinstance(self.timeout, Unset):
            timeout = UNSET
        else:
            timeout = self.timeout

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "acceptance_criteria": acceptance_criteria,
                "branch_name": branch_name,
                "cost_usd": cost_usd,
                "created_at": created_at,
                "description": description,
                "external_id": external_id,
                "id": id,
                "is_partial": is_partial,
                "labels": labels,
                "last_completed_task_seq": last_completed_task_seq,
                "pr_url": pr_url,
                "priority": priority,
                "project": project,
                "status": status,
                "title": title,
                "tokens_input": tokens_input,
                "tokens_output": tokens_output,
                "total_llm_calls": total_llm_calls,
                "updated_at": updated_at,
            }
        )
        if agent is not UNSET:
            field_dict["agent"] = agent
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if estimated_start is not UNSET:
            field_dict["estimated_start"] = estimated_start
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if last_error_type is not UNSET:
            field_dict["last_error_type"] = last_error_type
        if max_budget_usd is not UNSET:
            field_dict["max_budget_usd"] = max_budget_usd
        if parent_id is not UNSET:
            field_dict["parent_id"] = parent_id
        if pr_number is not UNSET:
            field_dict["pr_number"] = pr_number
        if queue_position is not UNSET:
            field_dict["queue_position"] = queue_position
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if submitter is not UNSET:
            field_dict["submitter"] = submitter
        if tags is not UNSET:
            field_dict["tags"] = tags
        if timeout is not UNSET:
            field_dict["timeout"] = timeout
        if webhook_url is not UNSET:
            field_dict["webhook_url"] = webhook_url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        acceptance_criteria = d.pop("acceptance_criteria")

        branch_name = d.pop("branch_name")

        cost_usd = d.pop("cost_usd")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        description = d.pop("description")

        external_id = d.pop("external_id")

        id = d.pop("id")

        is_partial = d.pop("is_partial")

        labels = cast(list[str], d.pop("labels"))

        last_completed_task_seq = d.pop("last_completed_task_seq")

        pr_url = d.pop("pr_url")

        priority = d.pop("priority")

        project = d.pop("project")

        status = TicketDetailStatus(d.pop("status"))

        title = d.pop("title")

        tokens_input = d.pop("tokens_input")

        tokens_output = d.pop("tokens_output")

        total_llm_calls = d.pop("total_llm_calls")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_agent(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        agent = _parse_agent(d.pop("agent", UNSET))

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

        def _parse_estimated_start(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                estimated_start_type_0 = datetime.datetime.fromisoformat(data)

                return estimated_start_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        estimated_start = _parse_estimated_start(d.pop("estimated_start", UNSET))

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        def _parse_last_error_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error_type = _parse_last_error_type(d.pop("last_error_type", UNSET))

        def _parse_max_budget_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_budget_usd = _parse_max_budget_usd(d.pop("max_budget_usd", UNSET))

        def _parse_parent_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent_id = _parse_parent_id(d.pop("parent_id", UNSET))

        def _parse_pr_number(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        pr_number = _parse_pr_number(d.pop("pr_number", UNSET))

        def _parse_queue_position(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        queue_position = _parse_queue_position(d.pop("queue_position", UNSET))

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

        def _parse_submitter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        submitter = _parse_submitter(d.pop("submitter", UNSET))

        tags = cast(list[str], d.pop("tags", UNSET))

        def _parse_timeout(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout = _parse_timeout(d.pop("timeout", UNSET))

        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url", UNSET))

        ticket_detail = cls(
            acceptance_criteria=acceptance_criteria,
            branch_name=branch_name,
            cost_usd=cost_usd,
            created_at=created_at,
            description=description,
            external_id=external_id,
            id=id,
            is_partial=is_partial,
            labels=labels,
            last_completed_task_seq=last_completed_task_seq,
            pr_url=pr_url,
            priority=priority,
            project=project,
            status=status,
            title=title,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
            total_llm_calls=total_llm_calls,
            updated_at=updated_at,
            agent=agent,
            completed_at=completed_at,
            estimated_start=estimated_start,
            last_error=last_error,
            last_error_type=last_error_type,
            max_budget_usd=max_budget_usd,
            parent_id=parent_id,
            pr_number=pr_number,
            queue_position=queue_position,
            started_at=started_at,
            submitter=submitter,
            tags=tags,
            timeout=timeout,
            webhook_url=webhook_url,
        )

        ticket_detail.additional_properties = d
        return ticket_detail

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
