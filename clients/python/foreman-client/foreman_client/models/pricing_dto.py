from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.model_price_dto import ModelPriceDto


T = TypeVar("T", bound="PricingDto")


@_attrs_define
class PricingDto:
    """The price table every cost is computed with.

    Attributes:
        models (list[ModelPriceDto]): Every listed model, by name.
        version (str): The table's version (`+custom` when configured prices changed it). Example: 2026-03-01.
        fallback (ModelPriceDto | None | Unset):
    """

    models: list[ModelPriceDto]
    version: str
    fallback: ModelPriceDto | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.model_price_dto import ModelPriceDto  # noqa: PLC0415

        models = []
        for models_item_data in self.models:
            models_item = models_item_data.to_dict()
            models.append(models_item)

        version = self.version

        fallback: dict[str, Any] | None | Unset
        if isinstance(self.fallback, Unset):
            fallback = UNSET
        elif isinstance(self.fallback, ModelPriceDto):
            fallback = self.fallback.to_dict()
        else:
            fallback = self.fallback

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "models": models,
                "version": version,
            }
        )
        if fallback is not UNSET:
            field_dict["fallback"] = fallback

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_price_dto import ModelPriceDto  # noqa: PLC0415

        d = dict(src_dict)
        models = []
        _models = d.pop("models")
        for models_item_data in _models:
            models_item = ModelPriceDto.from_dict(models_item_data)

            models.append(models_item)

        version = d.pop("version")

        def _parse_fallback(data: object) -> ModelPriceDto | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                fallback_type_0 = ModelPriceDto.from_dict(data)

                return fallback_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelPriceDto | None | Unset, data)

        fallback = _parse_fallback(d.pop("fallback", UNSET))

        pricing_dto = cls(
            models=models,
            version=version,
            fallback=fallback,
        )

        pricing_dto.additional_properties = d
        return pricing_dto

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
