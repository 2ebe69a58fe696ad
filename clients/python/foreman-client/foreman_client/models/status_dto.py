from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.run_progress_dto import RunProgressDto
    from ..models.status_dto_channels import StatusDtoChannels
    from ..models.status_dto_mcp_servers import StatusDtoMcpServers


T = TypeVar("T", bound="StatusDto")


@_attrs_define
class StatusDto:
    """Process and daemon status.

    Attributes:
        channels (StatusDtoChannels): Chat channel connectivity by name.
        daemon_state (str): `running` or `paused`. Example: running.
        mcp_servers (StatusDtoMcpServers): MCP server health by name.
        runner_mode (str): Where worktree commands run: `sandbox` (OS sandbox), `docker` or `none` (no isolation).
            Example: sandbox.
        status (str): Always `running` while the API answers. Example: running.
        uptime (str): Time since start, like `3h24m12s`. Example: 3h24m12s.
        uptime_seconds (int): Seconds since start.
        version (str): Server version.
        not_taking_work_because (None | str | Unset): Why the daemon takes no new work: `stopping`, `draining`,
            `paused`, `budget_exhausted`,
            `no_slots` or `no_daemon`; `null` while it takes work.
        run (None | RunProgressDto | Unset):
    """

    channels: StatusDtoChannels
    daemon_state: str
    mcp_servers: StatusDtoMcpServers
    runner_mode: str
    status: str
    uptime: str
    uptime_seconds: int
    version: str
    not_taking_work_because: None | str | Unset = UNSET
    run: None | RunProgressDto | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.run_progress_dto import RunProgressDto  # noqa: PLC0415

        channels = self.channels.to_dict()

        daemon_state = self.daemon_state

        mcp_servers = self.mcp_servers.to_dict()

        runner_mode = self.runner_mode

        status = self.status

        uptime = self.uptime

        uptime_seconds = self.uptime_seconds

        version = self.version

        not_taking_work_because: None | str | Unset
        if isinstance(self.not_taking_work_because, Unset):
            not_taking_work_because = UNSET
        else:
            not_taking_work_because = self.not_taking_work_because

        run: dict[str, Any] | None | Unset
        if isinstance(self.run, Unset):
            run = UNSET
        elif isinstance(self.run, RunProgressDto):
            run = self.run.to_dict()
        else:
            run = self.run

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "channels": channels,
                "daemon_state": daemon_state,
                "mcp_servers": mcp_servers,
                "runner_mode": runner_mode,
                "status": status,
                "uptime": uptime,
                "uptime_seconds": uptime_seconds,
                "version": version,
            }
        )
        if not_taking_work_because is not UNSET:
            field_dict["not_taking_work_because"] = not_taking_work_because
        if run is not UNSET:
            field_dict["run"] = run

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.run_progress_dto import RunProgressDto  # noqa: PLC0415
        from ..models.status_dto_channels import StatusDtoChannels  # noqa: PLC0415
        from ..models.status_dto_mcp_servers import StatusDtoMcpServers  # noqa: PLC0415

        d = dict(src_dict)
        channels = StatusDtoChannels.from_dict(d.pop("channels"))

        daemon_state = d.pop("daemon_state")

        mcp_servers = StatusDtoMcpServers.from_dict(d.pop("mcp_servers"))

        runner_mode = d.pop("runner_mode")

        status = d.pop("status")

        uptime = d.pop("uptime")

        uptime_seconds = d.pop("uptime_seconds")

        version = d.pop("version")

        def _parse_not_taking_work_because(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        not_taking_work_because = _parse_not_taking_work_because(d.pop("not_taking_work_because", UNSET))

        def _parse_run(data: object) -> None | RunProgressDto | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                run_type_0 = RunProgressDto.from_dict(data)

                return run_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunProgressDto | Unset, data)

        run = _parse_run(d.pop("run", UNSET))

        status_dto = cls(
            channels=channels,
            daemon_state=daemon_state,
            mcp_servers=mcp_servers,
            runner_mode=runner_mode,
            status=status,
            uptime=uptime,
            uptime_seconds=uptime_seconds,
            version=version,
            not_taking_work_because=not_taking_work_because,
            run=run,
        )

        status_dto.additional_properties = d
        return status_dto

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
