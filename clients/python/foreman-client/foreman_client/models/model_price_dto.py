from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ModelPriceDto")


@_attrs_define
class ModelPriceDto:
    """One model's price in USD per million tokens.

    Attributes:
        cache_read_usd_per_mtok (float): Input read from the prompt cache.
        cache_write_usd_per_mtok (float): Input written to the prompt cache.
        input_usd_per_mtok (float): Uncached input.
        model (str): The model name as the table lists it (lookups also match dated and provider-prefixed
            names). Example: claude-sonnet-4-6.
        output_usd_per_mtok (float): Output.
        source (str): `builtin` or `config` (a `[[pricing]]` entry). Example: builtin.
    """

    cache_read_usd_per_mtok: float
    cache_write_usd_per_mtok: float
    input_usd_per_mtok: float
    model: str
    output_usd_per_mtok: float
    source: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cache_read_usd_per_mtok = self.cache_read_usd_per_mtok

        cache_write_usd_per_mtok = self.cache_write_usd_per_mtok

        input_usd_per_mtok = self.input_usd_per_mtok

        model = self.model

        output_usd_per_mtok = self.output_usd_per_mtok

        source = self.source

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cache_read_usd_per_mtok": cache_read_usd_per_mtok,
                "cache_write_usd_per_mtok": cache_write_usd_per_mtok,
                "input_usd_per_mtok": input_usd_per_mtok,
                "model": model,
                "output_usd_per_mtok": output_usd_per_mtok,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cache_read_usd_per_mtok = d.pop("cache_read_usd_per_mtok")

        cache_write_usd_per_mtok = d.pop("cache_write_usd_per_mtok")

        input_usd_per_mtok = d.pop("input_usd_per_mtok")

        model = d.pop("model")

        output_usd_per_mtok = d.pop("output_usd_per_mtok")

        source = d.pop("source")

        model_price_dto = cls(
            cache_read_usd_per_mtok=cache_read_usd_per_mtok,
            cache_write_usd_per_mtok=cache_write_usd_per_mtok,
            input_usd_per_mtok=input_usd_per_mtok,
            model=model,
            output_usd_per_mtok=output_usd_per_mtok,
            source=source,
        )

        model_price_dto.additional_properties = d
        return model_price_dto

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
