from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.webhook_outcome_dto_action import WebhookOutcomeDtoAction
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.webhook_pull_request import WebhookPullRequest


T = TypeVar("T", bound="WebhookOutcomeDto")


@_attrs_define
class WebhookOutcomeDto:
    """What a verified webhook delivery led to.

    Attributes:
        action (WebhookOutcomeDtoAction): what the webhook led to: queued (new ticket), updated (queued ticket
            refreshed), recorded (noted on a known ticket), ignored, deferred (tracker slow or failing; the next poll takes
            care of it)
        event (str): The service's own action or event name. Example: labeled.
        kind (str): What the payload was about: `issue`, `comment`, `pull_request`, `ping` or `other`. Example: issue.
        reason (str): Why this action, for people. Example: ticket queued.
        external_id (None | str | Unset): The tracker ticket (or pull request) the payload names. Example: #42.
        project (None | str | Unset): The project the delivery was routed to. Example: default.
        pull_request (None | Unset | WebhookPullRequest):
        ticket_id (None | str | Unset): The Foreman ticket it concerns, when there is one.
    """

    action: WebhookOutcomeDtoAction
    event: str
    kind: str
    reason: str
    external_id: None | str | Unset = UNSET
    project: None | str | Unset = UNSET
    pull_request: None | Unset | WebhookPullRequest = UNSET
    ticket_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.webhook_pull_request import WebhookPullRequest  # noqa: PLC0415

        action = self.action.value

        event = self.event

        kind = self.kind

        reason = self.reason

        external_id: None | str | Unset
        if isinstance(self.external_id, Unset):
            external_id = UNSET
        else:
            external_id = self.external_id

        project: None | str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        pull_request: dict[str, Any] | None | Unset
        if isinstance(self.pull_request, Unset):
            pull_request = UNSET
        elif isinstance(self.pull_request, WebhookPullRequest):
            pull_request = self.pull_request.to_dict()
        else:
            pull_request = self.pull_request

        ticket_id: None | str | Unset
        if isinstance(self.ticket_id, Unset):
            ticket_id = UNSET
        else:
            ticket_id = self.ticket_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "event": event,
                "kind": kind,
                "reason": reason,
            }
        )
        if external_id is not UNSET:
            field_dict["external_id"] = external_id
        if project is not UNSET:
            field_dict["project"] = project
        if pull_request is not UNSET:
            field_dict["pull_request"] = pull_request
        if ticket_id is not UNSET:
            field_dict["ticket_id"] = ticket_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_pull_request import WebhookPullRequest  # noqa: PLC0415

        d = dict(src_dict)
        action = WebhookOutcomeDtoAction(d.pop("action"))

        event = d.pop("event")

        kind = d.pop("kind")

        reason = d.pop("reason")

        def _parse_external_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        external_id = _parse_external_id(d.pop("external_id", UNSET))

        def _parse_project(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        def _parse_pull_request(data: object) -> None | Unset | WebhookPullRequest:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pull_request_type_0 = WebhookPullRequest.from_dict(data)

                return pull_request_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookPullRequest, data)

        pull_request = _parse_pull_request(d.pop("pull_request", UNSET))

        def _parse_ticket_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ticket_id = _parse_ticket_id(d.pop("ticket_id", UNSET))

        webhook_outcome_dto = cls(
            action=action,
            event=event,
            kind=kind,
            reason=reason,
            external_id=external_id,
            project=project,
            pull_request=pull_request,
            ticket_id=ticket_id,
        )

        webhook_outcome_dto.additional_properties = d
        return webhook_outcome_dto

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
