from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.snippet_part_dto import SnippetPartDto


T = TypeVar("T", bound="SearchResult")


@_attrs_define
class SearchResult:
    """One matching ticket.

    Attributes:
        cost_usd (float): Total spend in USD.
        created_at (datetime.datetime): Created.
        external_id (str): The tracker's id.
        id (str): Ticket id.
        project (str): Project.
        score (float): Relevance, higher is better; comparable within one query only.
        snippet (list[SnippetPartDto]): A passage around the matches, as parts (matched words `highlighted`).
        snippet_html (str): The same passage as HTML: the text escaped, matched words in `<mark>`.
        status (str): Status.
        title (str): Title.
        updated_at (datetime.datetime): Last changed.
    """

    cost_usd: float
    created_at: datetime.datetime
    external_id: str
    id: str
    project: str
    score: float
    snippet: list[SnippetPartDto]
    snippet_html: str
    status: str
    title: str
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        created_at = self.created_at.isoformat()

        external_id = self.external_id

        id = self.id

        project = self.project

        score = self.score

        snippet = []
        for snippet_item_data in self.snippet:
            snippet_item = snippet_item_data.to_dict()
            snippet.append(snippet_item)

        snippet_html = self.snippet_html

        status = self.status

        title = self.title

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cost_usd": cost_usd,
                "created_at": created_at,
                "external_id": external_id,
                "id": id,
                "project": project,
                "score": score,
                "snippet": snippet,
                "snippet_html": snippet_html,
                "status": status,
                "title": title,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.snippet_part_dto import SnippetPartDto  # noqa: PLC0415

        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        external_id = d.pop("external_id")

        id = d.pop("id")

        project = d.pop("project")

        score = d.pop("score")

        snippet = []
        _snippet = d.pop("snippet")
        for snippet_item_data in _snippet:
            snippet_item = SnippetPartDto.from_dict(snippet_item_data)

            snippet.append(snippet_item)

        snippet_html = d.pop("snippet_html")

        status = d.pop("status")

        title = d.pop("title")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        search_result = cls(
            cost_usd=cost_usd,
            created_at=created_at,
            external_id=external_id,
            id=id,
            project=project,
            score=score,
            snippet=snippet,
            snippet_html=snippet_html,
            status=status,
            title=title,
            updated_at=updated_at,
        )

        search_result.additional_properties = d
        return search_result

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
