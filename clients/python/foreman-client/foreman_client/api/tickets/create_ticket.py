from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_ticket import CreateTicket
from ...models.error_body import ErrorBody
from ...models.ticket_detail import TicketDetail
from ...types import Response


def _get_kwargs(
    *,
    body: CreateTicket,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/tickets",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | TicketDetail | None:
    if response.status_code == 201:
        response_201 = TicketDetail.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

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
) -> Response[ErrorBody | TicketDetail]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CreateTicket,
) -> Response[ErrorBody | TicketDetail]:
    """Create a local ticket (not from a tracker); it starts `queued`.

     Give a `title`, or a `prompt` (quick submission: its first line is the title). Without
    `external_id`, one is generated as `LOCAL-<n>`. The submitter is the token's name. The
    answer carries the ticket's `queue_position` and `estimated_start`. Every invalid field is
    a 400 naming it.

    Args:
        body (CreateTicket): A ticket to create through the API (a local ticket, not from a
            tracker).

            Give a `title` (with an optional `description`), or a `prompt` for a quick submission: its
            first line becomes the title (cut at 120 characters) and the whole prompt the description.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | TicketDetail]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: CreateTicket,
) -> ErrorBody | TicketDetail | None:
    """Create a local ticket (not from a tracker); it starts `queued`.

     Give a `title`, or a `prompt` (quick submission: its first line is the title). Without
    `external_id`, one is generated as `LOCAL-<n>`. The submitter is the token's name. The
    answer carries the ticket's `queue_position` and `estimated_start`. Every invalid field is
    a 400 naming it.

    Args:
        body (CreateTicket): A ticket to create through the API (a local ticket, not from a
            tracker).

            Give a `title` (with an optional `description`), or a `prompt` for a quick submission: its
            first line becomes the title (cut at 120 characters) and the whole prompt the description.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | TicketDetail
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CreateTicket,
) -> Response[ErrorBody | TicketDetail]:
    """Create a local ticket (not from a tracker); it starts `queued`.

     Give a `title`, or a `prompt` (quick submission: its first line is the title). Without
    `external_id`, one is generated as `LOCAL-<n>`. The submitter is the token's name. The
    answer carries the ticket's `queue_position` and `estimated_start`. Every invalid field is
    a 400 naming it.

    Args:
        body (CreateTicket): A ticket to create through the API (a local ticket, not from a
            tracker).

            Give a `title` (with an optional `description`), or a `prompt` for a quick submission: its
            first line becomes the title (cut at 120 characters) and the whole prompt the description.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | TicketDetail]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: CreateTicket,
) -> ErrorBody | TicketDetail | None:
    """Create a local ticket (not from a tracker); it starts `queued`.

     Give a `title`, or a `prompt` (quick submission: its first line is the title). Without
    `external_id`, one is generated as `LOCAL-<n>`. The submitter is the token's name. The
    answer carries the ticket's `queue_position` and `estimated_start`. Every invalid field is
    a 400 naming it.

    Args:
        body (CreateTicket): A ticket to create through the API (a local ticket, not from a
            tracker).

            Give a `title` (with an optional `description`), or a `prompt` for a quick submission: its
            first line becomes the title (cut at 120 characters) and the whole prompt the description.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | TicketDetail
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
