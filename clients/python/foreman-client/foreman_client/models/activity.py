from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.model_usage import ModelUsage
    from ..models.recent_call import RecentCall
    from ..models.role_usage import RoleUsage
    from ..models.runner_usage import RunnerUsage


T = TypeVar("T", bound="Activity")


@_attrs_define
class Activity:
    """LLM attribution for the last seven days.

    Attributes:
        by_model (list[ModelUsage]): By model, most expensive first.
        by_role (list[RoleUsage]): By role, runner and model, most expensive first.
        by_runner (list[RunnerUsage]): By runner, most expensive first.
        recent_calls (list[RecentCall]): The 20 most recent calls, newest first.
    """

    by_model: list[ModelUsage]
    by_role: list[RoleUsage]
    by_runner: list[RunnerUsage]
    recent_calls: list[RecentCall]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        by_model = []
        for by_model_item_data in self.by_model:
            by_model_item = by_model_item_data.to_dict()
            by_model.append(by_model_item)

        by_role = []
        for by_role_item_data in self.by_role:
            by_role_item = by_role_item_data.to_dict()
            by_role.append(by_role_item)

        by_runner = []
        for by_runner_item_data in self.by_runner:
            by_runner_item = by_runner_item_data.to_dict()
            by_runner.append(by_runner_item)

        recent_calls = []
        for recent_calls_item_data in self.recent_calls:
            recent_calls_item = recent_calls_item_data.to_dict()
            recent_calls.append(recent_calls_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "by_model": by_model,
                "by_role": by_role,
                "by_runner": by_runner,
                "recent_calls": recent_calls,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_usage import ModelUsage  # noqa: PLC0415
        from ..models.recent_call import RecentCall  # noqa: PLC0415
        from ..models.role_usage import RoleUsage  # noqa: PLC0415
        from ..models.runner_usage import RunnerUsage  # noqa: PLC0415

        d = dict(src_dict)
        by_model = []
        _by_model = d.pop("by_model")
        for by_model_item_data in _by_model:
            by_model_item = ModelUsage.from_dict(by_model_item_data)

            by_model.append(by_model_item)

        by_role = []
        _by_role = d.pop("by_role")
        for by_role_item_data in _by_role:
            by_role_item = RoleUsage.from_dict(by_role_item_data)

            by_role.append(by_role_item)

        by_runner = []
        _by_runner = d.pop("by_runner")
        for by_runner_item_data in _by_runner:
            by_runner_item = RunnerUsage.from_dict(by_runner_item_data)

            by_runner.append(by_runner_item)

        recent_calls = []
        _recent_calls = d.pop("recent_calls")
        for recent_calls_item_data in _recent_calls:
            recent_calls_item = RecentCall.from_dict(recent_calls_item_data)

            recent_calls.append(recent_calls_item)

        activity = cls(
            by_model=by_model,
            by_role=by_role,
            by_runner=by_runner,
            recent_calls=recent_calls,
        )

        activity.additional_properties = d
        return activity

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
