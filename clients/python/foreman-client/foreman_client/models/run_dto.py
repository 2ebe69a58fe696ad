from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="RunDto")


@_attrs_define
class RunDto:
    """One server session.

    Attributes:
        cost_usd (float): Their cost, USD.
        elapsed_seconds (int): Seconds from start to stop (or to now while running).
        id (str): Id.
        last_seen_at (datetime.datetime): Its last sign of life.
        llm_calls (int): LLM calls recorded in the run.
        node_id (str): The node that ran it.
        started_at (datetime.datetime): Start-up.
        status (str): `running`, `stopped` or `crashed` (found still open at the next start). Example: stopped.
        tickets_done (int): Tickets that reached `merged` or `done` in the run.
        tickets_failed (int): Tickets that reached `failed` or `blocked` in the run.
        version (str): The server version.
        stopped_at (datetime.datetime | None | Unset): When it ended; `null` while running. A crashed run ended at its
            last sign of life.
    """

    cost_usd: float
    elapsed_seconds: int
    id: str
    last_seen_at: datetime.datetime
    llm_calls: int
    node_id: str
    started_at: datetime.datetime
    status: str
    tickets_done: int
    tickets_failed: int
    version: str
    stopped_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        elapsed_seconds = self.elapsed_seconds

        id = self.id

        last_seen_at = self.last_seen_at.isoformat()

        llm_calls = self.llm_calls

        node_id = self.node_id

        started_at = self.started_at.isoformat()

        status = self.status

        tickets_done = self.tickets_done

        tickets_failed = self.tickets_failed

        version = self.version

        stopped_at: None | str | Unset
        if isinstance(self.stopped_at, Unset):
            stopped_at = UNSET
        elif isinstance(self.stopped_at, datetime.datetime):
            stopped_at = self.stopped_at.isoformat()
        else:
            stopped_at = self.stopped_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cost_usd": cost_usd,
                "elapsed_seconds": elapsed_seconds,
                "id": id,
                "last_seen_at": last_seen_at,
                "llm_calls": llm_calls,
                "node_id": node_id,
                "started_at": started_at,
                "status": status,
                "tickets_done": tickets_done,
                "tickets_failed": tickets_failed,
                "version": version,
            }
        )
        if stopped_at is not UNSET:
            field_dict["stopped_at"] = stopped_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        elapsed_seconds = d.pop("elapsed_seconds")

        id = d.pop("id")

        last_seen_at = datetime.datetime.fromisoformat(d.pop("last_seen_at"))

        llm_calls = d.pop("llm_calls")

        node_id = d.pop("node_id")

        started_at = datetime.datetime.fromisoformat(d.pop("started_at"))

        status = d.pop("status")

        tickets_done = d.pop("tickets_done")

        tickets_failed = d.pop("tickets_failed")

        version = d.pop("version")

        def _parse_stopped_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                stopped_at_type_0 = datetime.datetime.fromisoformat(data)

                return stopped_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        stopped_at = _parse_stopped_at(d.pop("stopped_at", UNSET))

        run_dto = cls(
            cost_usd=cost_usd,
            elapsed_seconds=elapsed_seconds,
            id=id,
            last_seen_at=last_seen_at,
            llm_calls=llm_calls,
            node_id=node_id,
            started_at=started_at,
            status=status,
            tickets_done=tickets_done,
            tickets_failed=tickets_failed,
            version=version,
            stopped_at=stopped_at,
        )

        run_dto.additional_properties = d
        return run_dto

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
