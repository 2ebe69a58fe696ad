from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.failure_class_dto import FailureClassDto
    from ..models.gate_dto import GateDto


T = TypeVar("T", bound="RetrospectiveDto")


@_attrs_define
class RetrospectiveDto:
    """A retrospective over a round of finished tickets.

    Attributes:
        created_at (datetime.datetime): When it was written.
        failure_classes (list[FailureClassDto]): The most frequent failure classes, most frequent first.
        gates (list[GateDto]): First-pass rate per gate, in pipeline order.
        id (str): Id.
        mean_cost_usd (float): Mean cost per ticket in USD.
        mean_duration_ms (int): Mean time from start to finish.
        merged_prs (int): Merged pull requests.
        number (int): 1 for the first, one more each round.
        succeeded (int): Merged or done.
        success_rate (float): `succeeded / tickets`.
        ticket_ids (list[str]): The tickets covered, in finishing order.
        tickets (int): How many.
        cost_per_merged_pr_usd (float | None | Unset): The round's cost divided by its merged pull requests; `null`
            without one.
    """

    created_at: datetime.datetime
    failure_classes: list[FailureClassDto]
    gates: list[GateDto]
    id: str
    mean_cost_usd: float
    mean_duration_ms: int
    merged_prs: int
    number: int
    succeeded: int
    success_rate: float
    ticket_ids: list[str]
    tickets: int
    cost_per_merged_pr_usd: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        failure_classes = []
        for failure_classes_item_data in self.failure_classes:
            failure_classes_item = failure_classes_item_data.to_dict()
            failure_classes.append(failure_classes_item)

        gates = []
        for gates_item_data in self.gates:
            gates_item = gates_item_data.to_dict()
            gates.append(gates_item)

        id = self.id

        mean_cost_usd = self.mean_cost_usd

        mean_duration_ms = self.mean_duration_ms

        merged_prs = self.merged_prs

        number = self.number

        succeeded = self.succeeded

        success_rate = self.success_rate

        ticket_ids = self.ticket_ids

        tickets = self.tickets

        cost_per_merged_pr_usd: float | None | Unset
        if isinstance(self.cost_per_merged_pr_usd, Unset):
            cost_per_merged_pr_usd = UNSET
        else:
            cost_per_merged_pr_usd = self.cost_per_merged_pr_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "failure_classes": failure_classes,
                "gates": gates,
                "id": id,
                "mean_cost_usd": mean_cost_usd,
                "mean_duration_ms": mean_duration_ms,
                "merged_prs": merged_prs,
                "number": number,
                "succeeded": succeeded,
                "success_rate": success_rate,
                "ticket_ids": ticket_ids,
                "tickets": tickets,
            }
        )
        if cost_per_merged_pr_usd is not UNSET:
            field_dict["cost_per_merged_pr_usd"] = cost_per_merged_pr_usd

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.failure_class_dto import FailureClassDto  # noqa: PLC0415
        from ..models.gate_dto import GateDto  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        failure_classes = []
        _failure_classes = d.pop("failure_classes")
        for failure_classes_item_data in _failure_classes:
            failure_classes_item = FailureClassDto.from_dict(failure_classes_item_data)

            failure_classes.append(failure_classes_item)

        gates = []
        _gates = d.pop("gates")
        for gates_item_data in _gates:
            gates_item = GateDto.from_dict(gates_item_data)

            gates.append(gates_item)

        id = d.pop("id")

        mean_cost_usd = d.pop("mean_cost_usd")

        mean_duration_ms = d.pop("mean_duration_ms")

        merged_prs = d.pop("merged_prs")

        number = d.pop("number")

        succeeded = d.pop("succeeded")

        success_rate = d.pop("success_rate")

        ticket_ids = cast(list[str], d.pop("ticket_ids"))

        tickets = d.pop("tickets")

        def _parse_cost_per_merged_pr_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        cost_per_merged_pr_usd = _parse_cost_per_merged_pr_usd(d.pop("cost_per_merged_pr_usd", UNSET))

        retrospective_dto = cls(
            created_at=created_at,
            failure_classes=failure_classes,
            gates=gates,
            id=id,
            mean_cost_usd=mean_cost_usd,
            mean_duration_ms=mean_duration_ms,
            merged_prs=merged_prs,
            number=number,
            succeeded=succeeded,
            success_rate=success_rate,
            ticket_ids=ticket_ids,
            tickets=tickets,
            cost_per_merged_pr_usd=cost_per_merged_pr_usd,
        )

        retrospective_dto.additional_properties = d
        return retrospective_dto

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
