from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.ticket_summary_status import TicketSummaryStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="TicketSummary")


@_attrs_define
class TicketSummary:
    """A compact ticket card for the dashboard's list view.

    Attributes:
        cost_usd (float): Spend in USD.
        created_at (datetime.datetime): Created.
        external_id (str): Tracker id.
        id (str): Internal id.
        is_partial (bool): Whether the pull request is partial.
        pr_url (str): Pull request URL.
        priority (int): Priority.
        project (str): Project.
        status (TicketSummaryStatus): ticket status
        title (str): Title.
        total_llm_calls (int): LLM calls recorded.
        updated_at (datetime.datetime): Last changed.
        last_error (None | str | Unset): Last error.
        submitter (None | str | Unset): Who asked for it.
    """

    cost_usd: float
    created_at: datetime.datetime
    external_id: str
    id: str
    is_partial: bool
    pr_url: str
    priority: int
    project: str
    status: TicketSummaryStatus
    title: str
    total_llm_calls: int
    updated_at: datetime.datetime
    last_error: None | str | Unset = UNSET
    submitter: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        created_at = self.created_at.isoformat()

        external_id = self.external_id

        id = self.id

        is_partial = self.is_partial

        pr_url = self.pr_url

        priority = self.priority

        project = self.project

        status = self.status.value

        title = self.title

        total_llm_calls = self.total_llm_calls

        updated_at = self.updated_at.isoformat()

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        submitter: None | str | Unset
        if isinstance(self.submitter, Unset):
            submitter = UNSET
        else:
            submitter = self.submitter

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cost_usd": cost_usd,
                "created_at": created_at,
                "external_id": external_id,
                "id": id,
                "is_partial": is_partial,
                "pr_url": pr_url,
                "priority": priority,
                "project": project,
                "status": status,
                "title": title,
                "total_llm_calls": total_llm_calls,
                "updated_at": updated_at,
            }
        )
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if submitter is not UNSET:
            field_dict["submitter"] = submitter

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        external_id = d.pop("external_id")

        id = d.pop("id")

        is_partial = d.pop("is_partial")

        pr_url = d.pop("pr_url")

        priority = d.pop("priority")

        project = d.pop("project")

        status = TicketSummaryStatus(d.pop("status"))

        title = d.pop("title")

        total_llm_calls = d.pop("total_llm_calls")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        def _parse_submitter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        submitter = _parse_submitter(d.pop("submitter", UNSET))

        ticket_summary = cls(
            cost_usd=cost_usd,
            created_at=created_at,
            external_id=external_id,
            id=id,
            is_partial=is_partial,
            pr_url=pr_url,
            priority=priority,
            project=project,
            status=status,
            title=title,
            total_llm_calls=total_llm_calls,
            updated_at=updated_at,
            last_error=last_error,
            submitter=submitter,
        )

        ticket_summary.additional_properties = d
        return ticket_summary

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
