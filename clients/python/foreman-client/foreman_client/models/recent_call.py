from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.recent_call_status import RecentCallStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="RecentCall")


@_attrs_define
class RecentCall:
    """One recent LLM call with its ticket and task titles.

    Attributes:
        cost_usd (float): Spend in USD.
        duration_ms (int): Wall time.
        model (str): `provider:model`.
        role (str): Pipeline role.
        runner (str): Runner.
        status (RecentCallStatus): llm call outcome
        timestamp (datetime.datetime): When it was recorded.
        tokens_in (int): Input tokens.
        tokens_out (int): Output tokens.
        task_title (None | str | Unset): Task title.
        ticket_id (None | str | Unset): Ticket.
        ticket_title (None | str | Unset): Ticket title.
    """

    cost_usd: float
    duration_ms: int
    model: str
    role: str
    runner: str
    status: RecentCallStatus
    timestamp: datetime.datetime
    tokens_in: int
    tokens_out: int
    task_title: None | str | Unset = UNSET
    ticket_id: None | str | Unset = UNSET
    ticket_title: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        duration_ms = self.duration_ms

        model = self.model

        role = self.role

        runner = self.runner

        status = self.status.value

        timestamp = self.timestamp.isoformat()

        tokens_in = self.tokens_in

        tokens_out = self.tokens_out

        task_title: None | str | Unset
        if isinstance(self.task_title, Unset):
            task_title = UNSET
        else:
            task_title = self.task_title

        ticket_id: None | str | Unset
        if isinstance(self.ticket_id, Unset):
            ticket_id = UNSET
        else:
            ticket_id = self.ticket_id

        ticket_title: None | str | Unset
        if isinstance(self.ticket_title, Unset):
            ticket_title = UNSET
        else:
            ticket_title = self.ticket_title

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cost_usd": cost_usd,
                "duration_ms": duration_ms,
                "model": model,
                "role": role,
                "runner": runner,
                "status": status,
                "timestamp": timestamp,
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
            }
        )
        if task_title is not UNSET:
            field_dict["task_title"] = task_title
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id
        if ticket_title is not UNSET:
            field_dict["ticket_title"] = ticket_title

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        duration_ms = d.pop("duration_ms")

        model = d.pop("model")

        role = d.pop("role")

        runner = d.pop("runner")

        status = RecentCallStatus(d.pop("status"))

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        tokens_in = d.pop("tokens_in")

        tokens_out = d.pop("tokens_out")

        def _parse_task_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        task_title = _parse_task_title(d.pop("task_title", UNSET))

        def _parse_ticket_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_id = _parse_ticket_id(d.pop("ticket_id", UNSET))

        def _parse_ticket_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_title = _parse_ticket_title(d.pop("ticket_title", UNSET))

        recent_call = cls(
            cost_usd=cost_usd,
            duration_ms=duration_ms,
            model=model,
            role=role,
            runner=runner,
            status=status,
            timestamp=timestamp,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            task_title=task_title,
            ticket_id=ticket_id,
            ticket_title=ticket_title,
        )

        recent_call.additional_properties = d
        return recent_call

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
