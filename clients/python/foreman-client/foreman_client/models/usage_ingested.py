from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UsageIngested")


@_attrs_define
class UsageIngested:
    """What an ingest recorded.

    Attributes:
        cost_usd (float): The cost of the recorded rows, in USD.
        duplicates (list[int]): Indices of rows skipped because their `id` was already recorded.
        ids (list[None | str]): The recorded calls' ids, in item order (`null` for skipped rows).
        inserted (int): Rows recorded.
        priced (int): Rows priced from the price table (sent without `cost_usd`).
        received (int): Rows received.
    """

    cost_usd: float
    duplicates: list[int]
    ids: list[None | str]
    inserted: int
    priced: int
    received: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cost_usd = self.cost_usd

        duplicates = self.duplicates

        ids = []
        for ids_item_data in self.ids:
            ids_item: None | str
            ids_item = ids_item_data
            ids.append(ids_item)

        inserted = self.inserted

        priced = self.priced

        received = self.received

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cost_usd": cost_usd,
                "duplicates": duplicates,
                "ids": ids,
                "inserted": inserted,
                "priced": priced,
                "received": received,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cost_usd = d.pop("cost_usd")

        duplicates = cast(list[int], d.pop("duplicates"))

        ids = []
        _ids = d.pop("ids")
        for ids_item_data in _ids:

            def _parse_ids_item(data: object) -> None | str:
                if data is None:
                    return data
                return cast(None | str, data)

            ids_item = _parse_ids_item(ids_item_data)

            ids.append(ids_item)

        inserted = d.pop("inserted")

        priced = d.pop("priced")

        received = d.pop("received")

        usage_ingested = cls(
            cost_usd=cost_usd,
            duplicates=duplicates,
            ids=ids,
            inserted=inserted,
            priced=priced,
            received=received,
        )

        usage_ingested.additional_properties = d
        return usage_ingested

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
