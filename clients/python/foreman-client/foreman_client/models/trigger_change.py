from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TriggerChange")


@_attrs_define
class TriggerChange:
    """A change to one trigger; absent fields stay as they are.

    Attributes:
        id (str): Which trigger. Example: task_failures.
        enabled (bool | None | Unset): Turn it on or off.
        periods (list[str] | None | Unset): New budget periods (budget trigger only).
        threshold (int | None | Unset): New threshold (see [`TriggerDto`] for the ranges).
    """

    id: str
    enabled: bool | None | Unset = UNSET
    periods: list[str] | None | Unset = UNSET
    threshold: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        enabled: bool | None | Unset
        if isinstance(self.enabled, Unset):
            enabled = UNSET
        else:
            enabled = self.enabled

        periods: list[str] | None | Unset
        if isinstance(self.periods, Unset):
            periods = UNSET
        elif isinstance(self.periods, list):
            periods = self.periods

        else:
            periods = self.periods

        threshold: int | None | Unset
        if isinstance(self.threshold, Unset):
            threshold = UNSET
        else:
            threshold = self.threshold

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
            }
        )
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if periods is not UNSET:
            field_dict["periods"] = periods
        if threshold is not UNSET:
            field_dict["threshold"] = threshold

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        def _parse_enabled(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        enabled = _parse_enabled(d.pop("enabled", UNSET))

        def _parse_periods(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                periods_type_0 = cast(list[str], data)

                return periods_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        periods = _parse_periods(d.pop("periods", UNSET))

        def _parse_threshold(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        threshold = _parse_threshold(d.pop("threshold", UNSET))

        trigger_change = cls(
            id=id,
            enabled=enabled,
            periods=periods,
            threshold=threshold,
        )

        return trigger_change
