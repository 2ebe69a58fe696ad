from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.audit_checkpoint_dto import AuditCheckpointDto
    from ..models.broken_link_dto import BrokenLinkDto


T = TypeVar("T", bound="AuditVerification")


@_attrs_define
class AuditVerification:
    """What a walk along the chain found.

    Attributes:
        checked (int): Entries checked before the first broken link (all of them when `ok`).
        ok (bool): Whether every link holds.
        checkpoint (AuditCheckpointDto | None | Unset):
        first_broken (BrokenLinkDto | None | Unset):
    """

    checked: int
    ok: bool
    checkpoint: AuditCheckpointDto | None | Unset = UNSET
    first_broken: BrokenLinkDto | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.audit_checkpoint_dto import AuditCheckpointDto  # noqa: PLC0415
        from ..models.broken_link_dto import BrokenLinkDto  # noqa: PLC0415

        checked = self.checked

        ok = self.ok

        checkpoint: dict[str, Any] | None | Unset
        if isinstance(self.checkpoint, Unset):
            checkpoint = UNSET
        elif isinstance(self.checkpoint, AuditCheckpointDto):
            checkpoint = self.checkpoint.to_dict()
        else:
            checkpoint = self.checkpoint

        first_broken: dict[str, Any] | None | Unset
        if isinstance(self.first_broken, Unset):
            first_broken = UNSET
        elif isinstance(self.first_broken, BrokenLinkDto):
            first_broken = self.first_broken.to_dict()
        else:
            first_broken = self.first_broken

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checked": checked,
                "ok": ok,
            }
        )
        if checkpoint is not UNSET:
            field_dict["checkpoint"] = checkpoint
        if first_broken is not UNSET:
            field_dict["first_broken"] = first_broken

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_checkpoint_dto import AuditCheckpointDto  # noqa: PLC0415
        from ..models.broken_link_dto import BrokenLinkDto  # noqa: PLC0415

        d = dict(src_dict)
        checked = d.pop("checked")

        ok = d.pop("ok")

        def _parse_checkpoint(data: object) -> AuditCheckpointDto | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                checkpoint_type_0 = AuditCheckpointDto.from_dict(data)

                return checkpoint_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AuditCheckpointDto | None | Unset, data)

        checkpoint = _parse_checkpoint(d.pop("checkpoint", UNSET))

        def _parse_first_broken(data: object) -> BrokenLinkDto | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                first_broken_type_0 = BrokenLinkDto.from_dict(data)

                return first_broken_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BrokenLinkDto | None | Unset, data)

        first_broken = _parse_first_broken(d.pop("first_broken", UNSET))

        audit_verification = cls(
            checked=checked,
            ok=ok,
            checkpoint=checkpoint,
            first_broken=first_broken,
        )

        audit_verification.additional_properties = d
        return audit_verification

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
