from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.recent_pr_status import RecentPrStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="RecentPr")


@_attrs_define
class RecentPr:
    """A ticket with a pull request.

    Attributes:
        cost_usd (float): Spend in USD.
        external_id (str): Tracker id.
        is_partial (bool): Whether it is a partial (draft) pull request.
        pr_url (str): Pull request URL.
        status (RecentPrStatus): ticket status
        ticket_id (str): Ticket.
        title (str): Title.
        updated_at (datetime.datetime): Last changed.
        pr_number (int | None | Unset): Pull request number.
        submitter (None | str | Unset): Who asked for it.
    """

    cost_usd: float
    external_id: str
    is_partial: bool
    pr_url: str
    status: RecentPrStatus
    ticket_id: str
    title: str
    updated_at: datetime.datetime
    pr_number: int | None | Unset = UNSET
    submitter: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        external_id = self.external_id

        is_partial = self.is_partial

        pr_url = self.pr_url

        status = self.status.value

        ticket_id = self.ticket_id

        title = self.title

        updated_at = self.updated_at.isoformat()

        pr_number: int | None | Unset
        if isinstance(self.pr_number, Unset):
            pr_number = UNSET
        else:
            pr_number = self.pr_number

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
                "external_id": external_id,
                "is_partial": is_partial,
                "pr_url": pr_url,
                "status": status,
                "ticket_id": ticket_id,
                "title": title,
                "updated_at": updated_at,
            }
        )
        if pr_number is not UNSET:
            field_dict["pr_number"] = pr_number
        if submitter is not UNSET:
            field_dict["submitter"] = submitter

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        external_id = d.pop("external_id")

        is_partial = d.pop("is_partial")

        pr_url = d.pop("pr_url")

        status = RecentPrStatus(d.pop("status"))

        ticket_id = d.pop("ticket_id")

        title = d.pop("title")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_pr_number(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        pr_number = _parse_pr_number(d.pop("pr_number", UNSET))

        def _parse_submitter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        submitter = _parse_submitter(d.pop("submitter", UNSET))

        recent_pr = cls(
            cost_usd=cost_usd,
            external_id=external_id,
            is_partial=is_partial,
            pr_url=pr_url,
            status=status,
            ticket_id=ticket_id,
            title=title,
            updated_at=updated_at,
            pr_number=pr_number,
            submitter=submitter,
        )

        recent_pr.additional_properties = d
        return recent_pr

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
