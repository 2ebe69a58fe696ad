from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.transcript_entry_view import TranscriptEntryView


T = TypeVar("T", bound="TaskTranscript")


@_attrs_define
class TaskTranscript:
    """A task's transcript.

    Attributes:
        entries (list[TranscriptEntryView]): Records, oldest first.
        full (bool): Whether the transcript reached its size cap (later records were dropped).
        task_id (str): The task.
        ticket_id (str): Its ticket.
    """

    entries: list[TranscriptEntryView]
    full: bool
    task_id: str
    ticket_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        entries = []
        for entries_item_data in self.entries:
            entries_item = entries_item_data.to_dict()
            entries.append(entries_item)

        full = self.full

        task_id = self.task_id

        ticket_id = self.ticket_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "entries": entries,
                "full": full,
                "task_id": task_id,
                "ticket_id": ticket_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.transcript_entry_view import TranscriptEntryView  # noqa: PLC0415

        d = dict(src_dict)
        entries = []
        _entries = d.pop("entries")
        for entries_item_data in _entries:
            entries_item = TranscriptEntryView.from_dict(entries_item_data)

            entries.append(entries_item)

        full = d.pop("full")

        task_id = d.pop("task_id")

        ticket_id = d.pop("ticket_id")

        task_transcript = cls(
            entries=entries,
            full=full,
            task_id=task_id,
            ticket_id=ticket_id,
        )

        task_transcript.additional_properties = d
        return task_transcript

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
