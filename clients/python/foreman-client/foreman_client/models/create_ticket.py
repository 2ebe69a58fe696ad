from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.priority_name import PriorityName
from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateTicket")


@_attrs_define
class CreateTicket:
    """A ticket to create through the API (a local ticket, not from a tracker).

    Give a `title` (with an optional `description`), or a `prompt` for a quick submission: its
    first line becomes the title (cut at 120 characters) and the whole prompt the description.

        Attributes:
            acceptance_criteria (str | Unset): Acceptance criteria.
            agent (None | str | Unset): The name of a configured coding agent runner (`builtin`, `claude_code`, `codex`,
                `command`); an unknown one is a 400.
            description (str | Unset): Body.
            external_id (None | str | Unset): Tracker id: 1 to 200 characters, not all whitespace (stored trimmed);
                generated as
                `LOCAL-<n>` when absent or null.
            labels (list[str] | Unset): Labels.
            max_budget_usd (float | None | Unset): The ticket's own budget, 0 to 100 USD; budget admission applies the lower
                of it and the
                configured per-ticket limit.
            priority (int | None | PriorityName | Unset): `urgent` (40), `high` (30), `normal` (20, the default) or `low`
                (10), or a number from
                0 to 100; higher is claimed first. Trackers' priorities map onto the same numbers.
            project (None | str | Unset): Project slug; the configured default when absent, null or empty.
            prompt (None | str | Unset): Quick submission: 1 to 5,000 characters, not all whitespace. Without `title`, its
                first
                line is the title; it is the description (with `description`, a 400).
            tags (list[str] | None | Unset): At most 10 tags of 1 to 50 characters.
            timeout (int | None | Unset): Seconds one task may take, 1 to 3,600; a task past it is stopped and fails with
                the
                class `timeout`.
            title (None | str | Unset): Title: 1 to 500 characters, not all whitespace (stored trimmed); required unless
                `prompt` is given.
            webhook_url (None | str | Unset): An `http` or `https` URL for the outcome (stored and validated).
    """

    acceptance_criteria: str | Unset = UNSET
    agent: None | str | Unset = UNSET
    description: str | Unset = UNSET
    external_id: None | str | Unset = UNSET
    labels: list[str] | Unset = UNSET
    max_budget_usd: float | None | Unset = UNSET
    priority: int | None | PriorityName | Unset = UNSET
    project: None | str | Unset = UNSET
    prompt: None | str | Unset = UNSET
    tags: list[str] | None | Unset = UNSET
    timeout: int | None | Unset = UNSET
    title: None | str | Unset = UNSET
    webhook_url: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        acceptance_criteria = self.acceptance_criteria

        agent: None | str | Unset
        if isinstance(self.agent, Unset):
            agent = UNSET
        else:
            agent = self.agent

        description = self.description

        external_id: None | str | Unset
        if isinstance(self.external_id, Unset):
            external_id = UNSET
        else:
            external_id = self.external_id

        labels: list[str] | Unset = UNSET
        if not isinstance(self.labels, Unset):
            labels = self.labels

        max_budget_usd: float | None | Unset
        if isinstance(self.max_budget_usd, Unset):
            max_budget_usd = UNSET
        else:
            max_budget_usd = self.max_budget_usd

        priority: int | None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        elif isinstance(self.priority, PriorityName):
            priority = self.priority.value
        else:
            priority = self.priority

        project: None | str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        prompt: None | str | Unset
        if isinstance(self.prompt, Unset):
            prompt = UNSET
        else:
            prompt = self.prompt

        tags: list[str] | None | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        elif isinstance(self.tags, list):
            tags = self.tags

        else:
            tags = self.tags

        timeout: int | None | Unset
        if isinstance(self.timeout, Unset):
            timeout = UNSET
        else:
            timeout = self.timeout

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if acceptance_criteria is not UNSET:
            field_dict["acceptance_criteria"] = acceptance_criteria
        if agent is not UNSET:
            field_dict["agent"] = agent
        if description is not UNSET:
            field_dict["description"] = description
        if external_id is not UNSET:
            field_dict["external_id"] = external_id
        if labels is not UNSET:
            field_dict["labels"] = labels
        if max_budget_usd is not UNSET:
            field_dict["max_budget_usd"] = max_budget_usd
        if priority is not UNSET:
            field_dict["priority"] = priority
        if project is not UNSET:
            field_dict["project"] = project
        if prompt is not UNSET:
            field_dict["prompt"] = prompt
        if tags is not UNSET:
            field_dict["tags"] = tags
        if timeout is not UNSET:
            field_dict["timeout"] = timeout
        if title is not UNSET:
            field_dict["title"] = title
        if webhook_url is not UNSET:
            field_dict["webhook_url"] = webhook_url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        acceptance_criteria = d.pop("acceptance_criteria", UNSET)

        def _parse_agent(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        agent = _parse_agent(d.pop("agent", UNSET))

        description = d.pop("description", UNSET)

        def _parse_external_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        external_id = _parse_external_id(d.pop("external_id", UNSET))

        labels = cast(list[str], d.pop("labels", UNSET))

        def _parse_max_budget_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_budget_usd = _parse_max_budget_usd(d.pop("max_budget_usd", UNSET))

        def _parse_priority(data: object) -> int | None | PriorityName | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                priority_type_0_type_0 = PriorityName(data)

                return priority_type_0_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | None | PriorityName | Unset, data)

        priority = _parse_priority(d.pop("priority", UNSET))

        def _parse_project(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        def _parse_prompt(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        prompt = _parse_prompt(d.pop("prompt", UNSET))

        def _parse_tags(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                tags_type_0 = cast(list[str], data)

                return tags_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        tags = _parse_tags(d.pop("tags", UNSET))

        def _parse_timeout(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout = _parse_timeout(d.pop("timeout", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url", UNSET))

        create_ticket = cls(
            acceptance_criteria=acceptance_criteria,
            agent=agent,
            description=description,
            external_id=external_id,
            labels=labels,
            max_budget_usd=max_budget_usd,
            priority=priority,
            project=project,
            prompt=prompt,
            tags=tags,
            timeout=timeout,
            title=title,
            webhook_url=webhook_url,
        )

        return create_ticket
