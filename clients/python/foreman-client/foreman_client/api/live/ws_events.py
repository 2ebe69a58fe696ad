from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.live_event_dto import LiveEventDto
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
    token: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["ticket_id"] = ticket_id

    params["types"] = types

    params["since_seq"] = since_seq

    params["token"] = token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/ws/events",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | LiveEventDto | None:
    if response.status_code == 101:
        response_101 = cast(Any, None)
        return response_101

    if response.status_code == 200:
        response_200 = LiveEventDto.from_dict(response.json())

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
) -> Response[Any | ErrorBody | LiveEventDto]:
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
) -> Response[Any | ErrorBody | LiveEventDto]:
    """Live events over a WebSocket.

     Authenticate with the subprotocol `bearer.<token>` (echoed back), an `Authorization: Bearer`
    header, or `?token=` (deprecated). Each text message is an event with its ticket's title and
    submitter. With `since_seq`, stored events after it are replayed first, so a reconnecting
    client misses nothing. A client that falls behind receives
    `{"event_type":"events_dropped","count":N}` and then the missed events from the log.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | LiveEventDto]
    """

    kwargs = _get_kwargs(
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
        token=token,
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
) -> Any | ErrorBody | LiveEventDto | None:
    """Live events over a WebSocket.

     Authenticate with the subprotocol `bearer.<token>` (echoed back), an `Authorization: Bearer`
    header, or `?token=` (deprecated). Each text message is an event with its ticket's title and
    submitter. With `since_seq`, stored events after it are replayed first, so a reconnecting
    client misses nothing. A client that falls behind receives
    `{"event_type":"events_dropped","count":N}` and then the missed events from the log.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | LiveEventDto
    """

    return sync_detailed(
        client=client,
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
        token=token,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
    token: str | Unset = UNSET,
) -> Response[Any | ErrorBody | LiveEventDto]:
    """Live events over a WebSocket.

     Authenticate with the subprotocol `bearer.<token>` (echoed back), an `Authorization: Bearer`
    header, or `?token=` (deprecated). Each text message is an event with its ticket's title and
    submitter. With `since_seq`, stored events after it are replayed first, so a reconnecting
    client misses nothing. A client that falls behind receives
    `{"event_type":"events_dropped","count":N}` and then the missed events from the log.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | LiveEventDto]
    """

    kwargs = _get_kwargs(
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
        token=token,
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
) -> Any | ErrorBody | LiveEventDto | None:
    """Live events over a WebSocket.

     Authenticate with the subprotocol `bearer.<token>` (echoed back), an `Authorization: Bearer`
    header, or `?token=` (deprecated). Each text message is an event with its ticket's title and
    submitter. With `since_seq`, stored events after it are replayed first, so a reconnecting
    client misses nothing. A client that falls behind receives
    `{"event_type":"events_dropped","count":N}` and then the missed events from the log.

    Args:
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):
        token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | LiveEventDto
    """

    return (
        await asyncio_detailed(
            client=client,
            ticket_id=ticket_id,
            types=types,
            since_seq=since_seq,
            token=token,
        )
    ).parsed
