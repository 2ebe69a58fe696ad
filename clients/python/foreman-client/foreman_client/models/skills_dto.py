from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.skill_dto import SkillDto


T = TypeVar("T", bound="SkillsDto")


@_attrs_define
class SkillsDto:
    """The skill files discovered.

    Attributes:
        available (bool): Whether this server has a skill catalog (`false`: the API runs without the pipeline's
            skills, and `skills` is empty).
        skills (list[SkillDto]): Every skill file found, valid or not: the repository's first, then the data
            directory's, then the built-in ones.
    """

    available: bool
    skills: list[SkillDto]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        available = self.available

        skills = []
        for skills_item_data in self.skills:
            skills_item = skills_item_data.to_dict()
            skills.append(skills_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
                "skills": skills,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.skill_dto import SkillDto  # noqa: PLC0415

        d = dict(src_dict)
        available = d.pop("available")

        skills = []
        _skills = d.pop("skills")
        for skills_item_data in _skills:
            skills_item = SkillDto.from_dict(skills_item_data)

            skills.append(skills_item)

        skills_dto = cls(
            available=available,
            skills=skills,
        )

        skills_dto.additional_properties = d
        return skills_dto

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
