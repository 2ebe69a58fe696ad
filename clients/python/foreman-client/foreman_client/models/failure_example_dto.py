from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="FailureExampleDto")


@_attrs_define
class FailureExampleDto:
    """A ticket that failed.

    Attributes:
        error (str): Its last error (at most 300 characters).
        ticket_id (str): The ticket.
        title (str): Its title.
    """

    error: str
    ticket_id: str
    title: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        error = self.error

        ticket_id = self.ticket_id

        title = self.title

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "error": error,
                "ticket_id": ticket_id,
                "title": title,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        error = d.pop("error")

        ticket_id = d.pop("ticket_id")

        title = d.pop("title")

        failure_example_dto = cls(
            error=error,
            ticket_id=ticket_id,
            title=title,
        )

        failure_example_dto.additional_properties = d
        return failure_example_dto

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
