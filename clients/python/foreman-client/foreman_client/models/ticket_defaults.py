from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.priority_name import PriorityName
from ..types import UNSET, Unset

T = TypeVar("T", bound="TicketDefaults")


@_attrs_define
class TicketDefaults:
    """What every item of a batch takes unless it says otherwise.

    Attributes:
        agent (None | str | Unset): Coding agent of items that name none.
        max_budget_usd (float | None | Unset): Budget of items that give none.
        priority (int | None | PriorityName | Unset): Priority of items that give none.
        project (None | str | Unset): Project of items that name none.
        tags (list[str] | None | Unset): Tags of items that give none.
        timeout (int | None | Unset): Task timeout of items that give none.
        webhook_url (None | str | Unset): Webhook of items that give none.
    """

    agent: None | str | Unset = UNSET
    max_budget_usd: float | None | Unset = UNSET
    priority: int | None | PriorityName | Unset = UNSET
    project: None | str | Unset = UNSET
    tags: list[str] | None | Unset = UNSET
    timeout: int | None | Unset = UNSET
    webhook_url: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        agent: None | str | Unset
        if isinstance(self.agent, Unset):
            agent = UNSET
        else:
            agent = self.agent

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

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if agent is not UNSET:
            field_dict["agent"] = agent
        if max_budget_usd is not UNSET:
            field_dict["max_budget_usd"] = max_budget_usd
        if priority is not UNSET:
            field_dict["priority"] = priority
        if project is not UNSET:
            field_dict["project"] = project
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

        def _parse_agent(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        agent = _parse_agent(d.pop("agent", UNSET))

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

        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url", UNSET))

        ticket_defaults = cls(
            agent=agent,
            max_budget_usd=max_budget_usd,
            priority=priority,
            project=project,
            tags=tags,
            timeout=timeout,
            webhook_url=webhook_url,
        )

        return ticket_defaults
