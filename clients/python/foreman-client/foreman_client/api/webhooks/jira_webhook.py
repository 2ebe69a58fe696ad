from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.jira_webhook_body import JiraWebhookBody
from ...models.webhook_outcome_dto import WebhookOutcomeDto
from ...types import Response


def _get_kwargs(
    *,
    body: JiraWebhookBody,
    x_hub_signature: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Hub-Signature"] = x_hub_signature

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/webhooks/jira",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | WebhookOutcomeDto | None:
    if response.status_code == 200:
        response_200 = WebhookOutcomeDto.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | WebhookOutcomeDto]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: JiraWebhookBody,
    x_hub_signature: str,
) -> Response[ErrorBody | WebhookOutcomeDto]:
    """Jira Cloud webhook (issue and comment events).

     Register the webhook with a secret; Jira signs the raw body in `X-Hub-Signature`
    (`sha256=<hex>`), verified before anything is read or stored.

    Args:
        x_hub_signature (str):
        body (JiraWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WebhookOutcomeDto]
    """

    kwargs = _get_kwargs(
        body=body,
        x_hub_signature=x_hub_signature,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: JiraWebhookBody,
    x_hub_signature: str,
) -> ErrorBody | WebhookOutcomeDto | None:
    """Jira Cloud webhook (issue and comment events).

     Register the webhook with a secret; Jira signs the raw body in `X-Hub-Signature`
    (`sha256=<hex>`), verified before anything is read or stored.

    Args:
        x_hub_signature (str):
        body (JiraWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WebhookOutcomeDto
    """

    return sync_detailed(
        client=client,
        body=body,
        x_hub_signature=x_hub_signature,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: JiraWebhookBody,
    x_hub_signature: str,
) -> Response[ErrorBody | WebhookOutcomeDto]:
    """Jira Cloud webhook (issue and comment events).

     Register the webhook with a secret; Jira signs the raw body in `X-Hub-Signature`
    (`sha256=<hex>`), verified before anything is read or stored.

    Args:
        x_hub_signature (str):
        body (JiraWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WebhookOutcomeDto]
    """

    kwargs = _get_kwargs(
        body=body,
        x_hub_signature=x_hub_signature,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: JiraWebhookBody,
    x_hub_signature: str,
) -> ErrorBody | WebhookOutcomeDto | None:
    """Jira Cloud webhook (issue and comment events).

     Register the webhook with a secret; Jira signs the raw body in `X-Hub-Signature`
    (`sha256=<hex>`), verified before anything is read or stored.

    Args:
        x_hub_signature (str):
        body (JiraWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WebhookOutcomeDto
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_hub_signature=x_hub_signature,
        )
    ).parsed
