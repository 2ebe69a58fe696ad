from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_ticket import CreateTicket
    from ..models.ticket_defaults import TicketDefaults


T = TypeVar("T", bound="CreateTicketBatch")


@_attrs_define
class CreateTicketBatch:
    """Up to 20 tickets created together: all of them, or (on any error) none.

    Attributes:
        items (list[CreateTicket]):
        defaults (None | TicketDefaults | Unset):
    """

    items: list[CreateTicket]
    defaults: None | TicketDefaults | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.ticket_defaults import TicketDefaults  # noqa: PLC0415

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        defaults: dict[str, Any] | None | Unset
        if isinstance(self.defaults, Unset):
            defaults = UNSET
        elif isinstance(self.defaults, TicketDefaults):
            defaults = self.defaults.to_dict()
        else:
            defaults = self.defaults

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "items": items,
            }
        )
        if defaults is not UNSET:
            field_dict["defaults"] = defaults

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.create_ticket import CreateTicket  # noqa: PLC0415
        from ..models.ticket_defaults import TicketDefaults  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = CreateTicket.from_dict(items_item_data)

            items.append(items_item)

        def _parse_defaults(data: object) -> None | TicketDefaults | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                defaults_type_0 = TicketDefaults.from_dict(data)

                return defaults_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TicketDefaults | Unset, data)

        defaults = _parse_defaults(d.pop("defaults", UNSET))

        create_ticket_batch = cls(
            items=items,
            defaults=defaults,
        )

        return create_ticket_batch
