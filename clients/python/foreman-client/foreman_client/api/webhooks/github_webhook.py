from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.github_webhook_body import GithubWebhookBody
from ...models.webhook_outcome_dto import WebhookOutcomeDto
from ...types import Response


def _get_kwargs(
    *,
    body: GithubWebhookBody,
    x_git_hub_event: str,
    x_hub_signature_256: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-GitHub-Event"] = x_git_hub_event

    headers["X-Hub-Signature-256"] = x_hub_signature_256

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/webhooks/github",
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
    body: GithubWebhookBody,
    x_git_hub_event: str,
    x_hub_signature_256: str,
) -> Response[ErrorBody | WebhookOutcomeDto]:
    """GitHub webhook (issues, issue comments, pull requests, ping).

     Configure the hook with content type `application/json` and the secret from
    `[tracker] webhook_secret` (or the project's). The delivery is verified with
    `X-Hub-Signature-256` before anything is read or stored.

    Args:
        x_git_hub_event (str):
        x_hub_signature_256 (str):
        body (GithubWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WebhookOutcomeDto]
    """

    kwargs = _get_kwargs(
        body=body,
        x_git_hub_event=x_git_hub_event,
        x_hub_signature_256=x_hub_signature_256,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: GithubWebhookBody,
    x_git_hub_event: str,
    x_hub_signature_256: str,
) -> ErrorBody | WebhookOutcomeDto | None:
    """GitHub webhook (issues, issue comments, pull requests, ping).

     Configure the hook with content type `application/json` and the secret from
    `[tracker] webhook_secret` (or the project's). The delivery is verified with
    `X-Hub-Signature-256` before anything is read or stored.

    Args:
        x_git_hub_event (str):
        x_hub_signature_256 (str):
        body (GithubWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WebhookOutcomeDto
    """

    return sync_detailed(
        client=client,
        body=body,
        x_git_hub_event=x_git_hub_event,
        x_hub_signature_256=x_hub_signature_256,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: GithubWebhookBody,
    x_git_hub_event: str,
    x_hub_signature_256: str,
) -> Response[ErrorBody | WebhookOutcomeDto]:
    """GitHub webhook (issues, issue comments, pull requests, ping).

     Configure the hook with content type `application/json` and the secret from
    `[tracker] webhook_secret` (or the project's). The delivery is verified with
    `X-Hub-Signature-256` before anything is read or stored.

    Args:
        x_git_hub_event (str):
        x_hub_signature_256 (str):
        body (GithubWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WebhookOutcomeDto]
    """

    kwargs = _get_kwargs(
        body=body,
        x_git_hub_event=x_git_hub_event,
        x_hub_signature_256=x_hub_signature_256,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: GithubWebhookBody,
    x_git_hub_event: str,
    x_hub_signature_256: str,
) -> ErrorBody | WebhookOutcomeDto | None:
    """GitHub webhook (issues, issue comments, pull requests, ping).

     Configure the hook with content type `application/json` and the secret from
    `[tracker] webhook_secret` (or the project's). The delivery is verified with
    `X-Hub-Signature-256` before anything is read or stored.

    Args:
        x_git_hub_event (str):
        x_hub_signature_256 (str):
        body (GithubWebhookBody):

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
            x_git_hub_event=x_git_hub_event,
            x_hub_signature_256=x_hub_signature_256,
        )
    ).parsed
