from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.skill_problem_dto import SkillProblemDto


T = TypeVar("T", bound="SkillDto")


@_attrs_define
class SkillDto:
    """One skill file as discovered.

    Attributes:
        hooks (list[str]): The hook points it is meant for.
        name (str): The skill's name (its directory's when the file could not be parsed; empty for a
            source that could not be read at all).
        path (str): The file: a path in the repository, in the data directory, or `builtin:<name>`.
        problems (list[SkillProblemDto]): Why not, each with its file and line.
        shadowed (bool): Whether a skill of the same name from a source of higher precedence (repository, then
            data directory, then built in) hides it.
        source (str): `repository`, `data_dir` or `builtin`.
        step_types (list[str]): Its steps' types, in order (`run_command`, `llm_call`, `file_write`, `git_diff`,
            `agent`, `subskill`).
        valid (bool): Whether it parsed and validated (a hook can run it).
        description (None | str | Unset): What it does (valid skills only).
        project (None | str | Unset): The project whose repository holds it (repository skills only).
    """

    hooks: list[str]
    name: str
    path: str
    problems: list[SkillProblemDto]
    shadowed: bool
    source: str
    step_types: list[str]
    valid: bool
    description: None | str | Unset = UNSET
    project: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        hooks = self.hooks

        name = self.name

        path = self.path

        problems = []
        for problems_item_data in self.problems:
            problems_item = problems_item_data.to_dict()
            problems.append(problems_item)

        shadowed = self.shadowed

        source = self.source

        step_types = self.step_types

        valid = self.valid

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        project: None | str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "hooks": hooks,
                "name": name,
                "path": path,
                "problems": problems,
                "shadowed": shadowed,
                "source": source,
                "step_types": step_types,
                "valid": valid,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if project is not UNSET:
            field_dict["project"] = project

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.skill_problem_dto import SkillProblemDto  # noqa: PLC0415

        d = dict(src_dict)
        hooks = cast(list[str], d.pop("hooks"))

        name = d.pop("name")

        path = d.pop("path")

        problems = []
        _problems = d.pop("problems")
        for problems_item_data in _problems:
            problems_item = SkillProblemDto.from_dict(problems_item_data)

            problems.append(problems_item)

        shadowed = d.pop("shadowed")

        source = d.pop("source")

        step_types = cast(list[str], d.pop("step_types"))

        valid = d.pop("valid")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_project(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        skill_dto = cls(
            hooks=hooks,
            name=name,
            path=path,
            problems=problems,
            shadowed=shadowed,
            source=source,
            step_types=step_types,
            valid=valid,
            description=description,
            project=project,
        )

        skill_dto.additional_properties = d
        return skill_dto

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
