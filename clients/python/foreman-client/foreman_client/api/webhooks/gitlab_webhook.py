from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.gitlab_webhook_body import GitlabWebhookBody
from ...models.webhook_outcome_dto import WebhookOutcomeDto
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: GitlabWebhookBody,
    x_gitlab_token: str,
    x_gitlab_event: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Gitlab-Token"] = x_gitlab_token

    if not isinstance(x_gitlab_event, Unset):
        headers["X-Gitlab-Event"] = x_gitlab_event

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/webhooks/gitlab",
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
    body: GitlabWebhookBody,
    x_gitlab_token: str,
    x_gitlab_event: None | str | Unset = UNSET,
) -> Response[ErrorBody | WebhookOutcomeDto]:
    """GitLab webhook (issue, note and merge request events).

     Configure the hook's secret token with the webhook secret; GitLab echoes it in
    `X-Gitlab-Token`, which is compared in constant time before anything is read or stored.

    Args:
        x_gitlab_token (str):
        x_gitlab_event (None | str | Unset):
        body (GitlabWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WebhookOutcomeDto]
    """

    kwargs = _get_kwargs(
        body=body,
        x_gitlab_token=x_gitlab_token,
        x_gitlab_event=x_gitlab_event,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: GitlabWebhookBody,
    x_gitlab_token: str,
    x_gitlab_event: None | str | Unset = UNSET,
) -> ErrorBody | WebhookOutcomeDto | None:
    """GitLab webhook (issue, note and merge request events).

     Configure the hook's secret token with the webhook secret; GitLab echoes it in
    `X-Gitlab-Token`, which is compared in constant time before anything is read or stored.

    Args:
        x_gitlab_token (str):
        x_gitlab_event (None | str | Unset):
        body (GitlabWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WebhookOutcomeDto
    """

    return sync_detailed(
        client=client,
        body=body,
        x_gitlab_token=x_gitlab_token,
        x_gitlab_event=x_gitlab_event,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: GitlabWebhookBody,
    x_gitlab_token: str,
    x_gitlab_event: None | str | Unset = UNSET,
) -> Response[ErrorBody | WebhookOutcomeDto]:
    """GitLab webhook (issue, note and merge request events).

     Configure the hook's secret token with the webhook secret; GitLab echoes it in
    `X-Gitlab-Token`, which is compared in constant time before anything is read or stored.

    Args:
        x_gitlab_token (str):
        x_gitlab_event (None | str | Unset):
        body (GitlabWebhookBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WebhookOutcomeDto]
    """

    kwargs = _get_kwargs(
        body=body,
        x_gitlab_token=x_gitlab_token,
        x_gitlab_event=x_gitlab_event,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: GitlabWebhookBody,
    x_gitlab_token: str,
    x_gitlab_event: None | str | Unset = UNSET,
) -> ErrorBody | WebhookOutcomeDto | None:
    """GitLab webhook (issue, note and merge request events).

     Configure the hook's secret token with the webhook secret; GitLab echoes it in
    `X-Gitlab-Token`, which is compared in constant time before anything is read or stored.

    Args:
        x_gitlab_token (str):
        x_gitlab_event (None | str | Unset):
        body (GitlabWebhookBody):

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
            x_gitlab_token=x_gitlab_token,
            x_gitlab_event=x_gitlab_event,
        )
    ).parsed
