from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="TriggerDto")


@_attrs_define
class TriggerDto:
    """One trigger.

    Attributes:
        description (str): What it watches.
        enabled (bool): Whether it fires.
        id (str): `budget_threshold`, `task_failures`, `context_threshold`, `ticket_blocked`, `pr_merged`
            or `daemon_stopped`. Example: budget_threshold.
        periods (list[str]): Budget periods watched (`daily`, `monthly`, `ticket`); empty for other triggers.
        threshold (int | None | Unset): Percentage (budget, context: 1–100) or count (task failures: 1–1000); `null` for
            triggers without one.
    """

    description: str
    enabled: bool
    id: str
    periods: list[str]
    threshold: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        description = self.description

        enabled = self.enabled

        id = self.id

        periods = self.periods

        threshold: int | None | Unset
        if isinstance(self.threshold, Unset):
            threshold = UNSET
        else:
            threshold = self.threshold

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "description": description,
                "enabled": enabled,
                "id": id,
                "periods": periods,
            }
        )
        if threshold is not UNSET:
            field_dict["threshold"] = threshold

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        description = d.pop("description")

        enabled = d.pop("enabled")

        id = d.pop("id")

        periods = cast(list[str], d.pop("periods"))

        def _parse_threshold(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        threshold = _parse_threshold(d.pop("threshold", UNSET))

        trigger_dto = cls(
            description=description,
            enabled=enabled,
            id=id,
            periods=periods,
            threshold=threshold,
        )

        trigger_dto.additional_properties = d
        return trigger_dto

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
