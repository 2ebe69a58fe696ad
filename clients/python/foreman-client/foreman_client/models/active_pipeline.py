from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.active_pipeline_current_stage import ActivePipelineCurrentStage
from ..types import UNSET, Unset

T = TypeVar("T", bound="ActivePipeline")


@_attrs_define
class ActivePipeline:
    """A pipeline running now.

    Attributes:
        current_stage (ActivePipelineCurrentStage): ticket status
        current_task_seq (int): Sequence of the task being worked on (0 before planning produced tasks).
        external_id (str): Tracker id.
        ticket_id (str): Ticket.
        title (str): Title.
        total_tasks (int): Tasks in the plan.
        started_at (datetime.datetime | None | Unset): When work began.
    """

    current_stage: ActivePipelineCurrentStage
    current_task_seq: int
    external_id: str
    ticket_id: str
    title: str
    total_tasks: int
    started_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        current_stage = self.current_stage.value

        current_task_seq = self.current_task_seq

        external_id = self.external_id

        ticket_id = self.ticket_id

        title = self.title

        total_tasks = self.total_tasks

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
                "current_stage": current_stage,
                "current_task_seq": current_task_seq,
                "external_id": external_id,
                "ticket_id": ticket_id,
                "title": title,
                "total_tasks": total_tasks,
            }
        )
        if started_at is not UNSET:
            field_dict["started_at"] = started_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        current_stage = ActivePipelineCurrentStage(d.pop("current_stage"))

        current_task_seq = d.pop("current_task_seq")

        external_id = d.pop("external_id")

        ticket_id = d.pop("ticket_id")

        title = d.pop("title")

        total_tasks = d.pop("total_tasks")

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

        active_pipeline = cls(
            current_stage=current_stage,
            current_task_seq=current_task_seq,
            external_id=external_id,
            ticket_id=ticket_id,
            title=title,
            total_tasks=total_tasks,
            started_at=started_at,
        )

        active_pipeline.additional_properties = d
        return active_pipeline

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
