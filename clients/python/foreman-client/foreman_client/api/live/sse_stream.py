from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.sse_stream_response_200 import SseStreamResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

    params: dict[str, Any] = {}

    params["ticket_id"] = ticket_id

    params["types"] = types

    params["since_seq"] = since_seq

    params["token"] = token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/stream",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | SseStreamResponse200 | None:
    if response.status_code == 200:
        response_200 = SseStreamResponse200.from_dict(response.text)

        return response_200

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
) -> Response[ErrorBody | SseStreamResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> Response[ErrorBody | SseStreamResponse200]:
    """Live events as Server-Sent Events.

     Authenticate with `Authorization: Bearer` or `?token=` (browsers' `EventSource` cannot set
    headers). Each event has `id: <seq>`; reconnecting with `Last-Event-ID` (or `since_seq`)
    replays what was missed. A comment is sent every 15 s to keep proxies from closing the
    stream.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SseStreamResponse200]
    """

    kwargs = _get_kwargs(
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
        token=token,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> ErrorBody | SseStreamResponse200 | None:
    """Live events as Server-Sent Events.

     Authenticate with `Authorization: Bearer` or `?token=` (browsers' `EventSource` cannot set
    headers). Each event has `id: <seq>`; reconnecting with `Last-Event-ID` (or `since_seq`)
    replays what was missed. A comment is sent every 15 s to keep proxies from closing the
    stream.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SseStreamResponse200
    """

    return sync_detailed(
        client=client,
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
        token=token,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> Response[ErrorBody | SseStreamResponse200]:
    """Live events as Server-Sent Events.

     Authenticate with `Authorization: Bearer` or `?token=` (browsers' `EventSource` cannot set
    headers). Each event has `id: <seq>`; reconnecting with `Last-Event-ID` (or `since_seq`)
    replays what was missed. A comment is sent every 15 s to keep proxies from closing the
    stream.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SseStreamResponse200]
    """

    kwargs = _get_kwargs(
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
        token=token,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> ErrorBody | SseStreamResponse200 | None:
    """Live events as Server-Sent Events.

     Authenticate with `Authorization: Bearer` or `?token=` (browsers' `EventSource` cannot set
    headers). Each event has `id: <seq>`; reconnecting with `Last-Event-ID` (or `since_seq`)
    replays what was missed. A comment is sent every 15 s to keep proxies from closing the
    stream.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SseStreamResponse200
    """

    return (
        await asyncio_detailed(
            client=client,
            ticket_id=ticket_id,
            types=types,
            since_seq=since_seq,
            token=token,
            last_event_id=last_event_id,
        )
    ).parsed
