from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.transcript_entry_view_details import TranscriptEntryViewDetails


T = TypeVar("T", bound="TranscriptEntryView")


@_attrs_define
class TranscriptEntryView:
    """One record of a task's transcript.

    Attributes:
        attempt (int): The implementation attempt it belongs to.
        bytes_ (int): The text's size before it was clipped.
        created_at (datetime.datetime): When it was recorded.
        details (TranscriptEntryViewDetails): Structured facts: a test run's `phase` and `outcome`, a review's `review`,
            `approved`
            and `issues`.
        is_error (bool): A failed tool call, failing tests, a rejection.
        kind (str): `prompt`, `assistant`, `tool_call`, `tool_result`, `note`, `test_run`, `lint` or
            `review`.
        seq (int): 1-based position.
        text (str): The text (secrets redacted), at most 8 KiB.
        truncated (bool): Whether the text was clipped.
        turn (int): The agent's turn (0 outside an agent run).
        tool (None | str | Unset): The tool, for calls and results.
    """

    attempt: int
    bytes_: int
    created_at: datetime.datetime
    details: TranscriptEntryViewDetails
    is_error: bool
    kind: str
    seq: int
    text: str
    truncated: bool
    turn: int
    tool: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        bytes_ = self.bytes_

        created_at = self.created_at.isoformat()

        details = self.details.to_dict()

        is_error = self.is_error

        kind = self.kind

        seq = self.seq

        text = self.text

        truncated = self.truncated

        turn = self.turn

        tool: None | str | Unset
        if isinstance(self.tool, Unset):
            tool = UNSET
        else:
            tool = self.tool

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt": attempt,
                "bytes": bytes_,
                "created_at": created_at,
                "details": details,
                "is_error": is_error,
                "kind": kind,
                "seq": seq,
                "text": text,
                "truncated": truncated,
                "turn": turn,
            }
        )
        if tool is not UNSET:
            field_dict["tool"] = tool

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.transcript_entry_view_details import TranscriptEntryViewDetails  # noqa: PLC0415

        d = dict(src_dict)
        attempt = d.pop("attempt")

        bytes_ = d.pop("bytes")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        details = TranscriptEntryViewDetails.from_dict(d.pop("details"))

        is_error = d.pop("is_error")

        kind = d.pop("kind")

        seq = d.pop("seq")

        text = d.pop("text")

        truncated = d.pop("truncated")

        turn = d.pop("turn")

        def _parse_tool(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tool = _parse_tool(d.pop("tool", UNSET))

        transcript_entry_view = cls(
            attempt=attempt,
            bytes_=bytes_,
            created_at=created_at,
            details=details,
            is_error=is_error,
            kind=kind,
            seq=seq,
            text=text,
            truncated=truncated,
            turn=turn,
            tool=tool,
        )

        transcript_entry_view.additional_properties = d
        return transcript_entry_view

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
