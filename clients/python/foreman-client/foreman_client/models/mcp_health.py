from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="McpHealth")


@_attrs_define
class McpHealth:
    """An MCP server's health, as `/api/status` reports it.

    Attributes:
        healthy (bool): Whether the server answered its last probe.
        last_error (None | str | Unset): Why the server last stopped or failed to start (`exited with exit status: 3;
            stderr:
            ...`), kept after a successful restart.
        restarts (int | Unset): Restarts since the server started.
        tool_count (int | Unset): Tools offered to the agent (after `allowed_tools`); 0 while the server is down.
    """

    healthy: bool
    last_error: None | str | Unset = UNSET
    restarts: int | Unset = UNSET
    tool_count: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        healthy = self.healthy

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        restarts = self.restarts

        tool_count = self.tool_count

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "healthy": healthy,
            }
        )
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if restarts is not UNSET:
            field_dict["restarts"] = restarts
        if tool_count is not UNSET:
            field_dict["tool_count"] = tool_count

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        healthy = d.pop("healthy")

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        restarts = d.pop("restarts", UNSET)

        tool_count = d.pop("tool_count", UNSET)

        mcp_health = cls(
            healthy=healthy,
            last_error=last_error,
            restarts=restarts,
            tool_count=tool_count,
        )

        mcp_health.additional_properties = d
        return mcp_health

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
