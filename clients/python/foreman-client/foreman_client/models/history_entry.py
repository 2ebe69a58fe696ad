from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="HistoryEntry")


@_attrs_define
class HistoryEntry:
    """One finished ticket.

    Attributes:
        cost_usd (float): Total spend in USD.
        external_id (str): The tracker's id.
        finished_at (datetime.datetime): When it finished (for `partial` and `decomposed`: its last change).
        id (str): Ticket id.
        llm_calls (int): LLM calls made for it.
        outcome (str): How it ended: its status (`merged`, `pr_closed`, `done`, `failed`, `blocked`, `partial`,
            `decomposed`).
        project (str): Project.
        title (str): Title.
        duration_secs (float | None | Unset): From start to finish, in seconds; `null` when it never started.
        error_type (None | str | Unset): Why it failed or was blocked (`cancelled`, `budget`, `test`, ...), when it did.
        pr_url (None | str | Unset): The pull request, when one was opened.
        started_at (datetime.datetime | None | Unset): When work began; `null` when it never did (cancelled while
            queued, say).
    """

    cost_usd: float
    external_id: str
    finished_at: datetime.datetime
    id: str
    llm_calls: int
    outcome: str
    project: str
    title: str
    duration_secs: float | None | Unset = UNSET
    error_type: None | str | Unset = UNSET
    pr_url: None | str | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        external_id = self.external_id

        finished_at = self.finished_at.isoformat()

        id = self.id

        llm_calls = self.llm_calls

        outcome = self.outcome

        project = self.project

        title = self.title

        duration_secs: float | None | Unset
        if isinstance(self.duration_secs, Unset):
            duration_secs = UNSET
        else:
            duration_secs = self.duration_secs

        error_type: None | str | Unset
        if isinstance(self.error_type, Unset):
            error_type = UNSET
        else:
            error_type = self.error_type

        pr_url: None | str | Unset
        if isinstance(self.pr_url, Unset):
            pr_url = UNSET
        else:
            pr_url = self.pr_url

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
                "external_id": external_id,
                "finished_at": finished_at,
                "id": id,
                "llm_calls": llm_calls,
                "outcome": outcome,
                "project": project,
                "title": title,
            }
        )
        if duration_secs is not UNSET:
            field_dict["duration_secs"] = duration_secs
        if error_type is not UNSET:
            field_dict["error_type"] = error_type
        if pr_url is not UNSET:
            field_dict["pr_url"] = pr_url
        if started_at is not UNSET:
            field_dict["started_at"] = started_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        external_id = d.pop("external_id")

        finished_at = datetime.datetime.fromisoformat(d.pop("finished_at"))

        id = d.pop("id")

        llm_calls = d.pop("llm_calls")

        outcome = d.pop("outcome")

        project = d.pop("project")

        title = d.pop("title")

        def _parse_duration_secs(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        duration_secs = _parse_duration_secs(d.pop("duration_secs", UNSET))

        def _parse_error_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error_type = _parse_error_type(d.pop("error_type", UNSET))

        def _parse_pr_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        pr_url = _parse_pr_url(d.pop("pr_url", UNSET))

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

        history_entry = cls(
            cost_usd=cost_usd,
            external_id=external_id,
            finished_at=finished_at,
            id=id,
            llm_calls=llm_calls,
            outcome=outcome,
            project=project,
            title=title,
            duration_secs=duration_secs,
            error_type=error_type,
            pr_url=pr_url,
            started_at=started_at,
        )

        history_entry.additional_properties = d
        return history_entry

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
