from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.failure_example_dto import FailureExampleDto


T = TypeVar("T", bound="FailureClassDto")


@_attrs_define
class FailureClassDto:
    """A failure class with examples.

    Attributes:
        class_ (str): The class (`test_failure`, `budget_exceeded`, ..., `unknown`).
        count (int): Tickets that ended with it.
        examples (list[FailureExampleDto]): A few of them.
    """

    class_: str
    count: int
    examples: list[FailureExampleDto]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        class_ = self.class_

        count = self.count

        examples = []
        for examples_item_data in self.examples:
            examples_item = examples_item_data.to_dict()
            examples.append(examples_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "class": class_,
                "count": count,
                "examples": examples,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.failure_example_dto import FailureExampleDto  # noqa: PLC0415

        d = dict(src_dict)
        class_ = d.pop("class")

        count = d.pop("count")

        examples = []
        _examples = d.pop("examples")
        for examples_item_data in _examples:
            examples_item = FailureExampleDto.from_dict(examples_item_data)

            examples.append(examples_item)

        failure_class_dto = cls(
            class_=class_,
            count=count,
            examples=examples,
        )

        failure_class_dto.additional_properties = d
        return failure_class_dto

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
