from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.ticket_list_item_status import TicketListItemStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="TicketListItem")


@_attrs_define
class TicketListItem:
    """A ticket in a list.

    Attributes:
        cost_usd (float): Spend in USD.
        created_at (datetime.datetime): Created.
        external_id (str): Tracker id. Example: PROJ-123.
        id (str): Internal id.
        pr_url (str): Pull request URL (empty before one exists).
        priority (int): Priority (higher runs first).
        project (str): Project.
        status (TicketListItemStatus): ticket status
        title (str): Title.
        updated_at (datetime.datetime): Last changed.
        estimated_start (datetime.datetime | None | Unset): When it is expected to start (free slots, then the recent
            mean duration per round of
            slots ahead); null unless `queued` or before any ticket has finished.
        queue_position (int | None | Unset): 1-based place in the queue, in claim order; null unless `queued`.
        submitter (None | str | Unset): Who asked for it.
    """

    cost_usd: float
    created_at: datetime.datetime
    external_id: str
    id: str
    pr_url: str
    priority: int
    project: str
    status: TicketListItemStatus
    title: str
    updated_at: datetime.datetime
    estimated_start: datetime.datetime | None | Unset = UNSET
    queue_position: int | None | Unset = UNSET
    submitter: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        created_at = self.created_at.isoformat()

        external_id = self.external_id

        id = self.id

        pr_url = self.pr_url

        priority = self.priority

        project = self.project

        status = self.status.value

        title = self.title

        updated_at = self.updated_at.isoformat()

        estimated_start: None | str | Unset
        if isinstance(self.estimated_start, Unset):
            estimated_start = UNSET
        elif isinstance(self.estimated_start, datetime.datetime):
            estimated_start = self.estimated_start.isoformat()
        else:
            estimated_start = self.estimated_start

        queue_position: int | None | Unset
        if isinstance(self.queue_position, Unset):
            queue_position = UNSET
        else:
            queue_position = self.queue_position

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
                "pr_url": pr_url,
                "priority": priority,
                "project": project,
                "status": status,
                "title": title,
                "updated_at": updated_at,
            }
        )
        if estimated_start is not UNSET:
            field_dict["estimated_start"] = estimated_start
        if queue_position is not UNSET:
            field_dict["queue_position"] = queue_position
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

        pr_url = d.pop("pr_url")

        priority = d.pop("priority")

        project = d.pop("project")

        status = TicketListItemStatus(d.pop("status"))

        title = d.pop("title")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

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

        def _parse_queue_position(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        queue_position = _parse_queue_position(d.pop("queue_position", UNSET))

        def _parse_submitter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        submitter = _parse_submitter(d.pop("submitter", UNSET))

        ticket_list_item = cls(
            cost_usd=cost_usd,
            created_at=created_at,
            external_id=external_id,
            id=id,
            pr_url=pr_url,
            priority=priority,
            project=project,
            status=status,
            title=title,
            updated_at=updated_at,
            estimated_start=estimated_start,
            queue_position=queue_position,
            submitter=submitter,
        )

        ticket_list_item.additional_properties = d
        return ticket_list_item

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
