from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.live_event_dto import LiveEventDto
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["offset"] = offset

    params["ticket_id"] = ticket_id

    params["types"] = types

    params["since_seq"] = since_seq

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/events",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | list[LiveEventDto] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = LiveEventDto.from_dict(response_200_item_data)

            response_200.append(response_200_item)

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
) -> Response[ErrorBody | list[LiveEventDto]]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
) -> Response[ErrorBody | list[LiveEventDto]]:
    """The global event feed across tickets, newest first, each with its ticket's title and
    submitter.

    Args:
        limit (int | Unset):
        offset (int | Unset):
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[LiveEventDto]]
    """

    kwargs = _get_kwargs(
        limit=limit,
        offset=offset,
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
) -> ErrorBody | list[LiveEventDto] | None:
    """The global event feed across tickets, newest first, each with its ticket's title and
    submitter.

    Args:
        limit (int | Unset):
        offset (int | Unset):
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[LiveEventDto]
    """

    return sync_detailed(
        client=client,
        limit=limit,
        offset=offset,
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
) -> Response[ErrorBody | list[LiveEventDto]]:
    """The global event feed across tickets, newest first, each with its ticket's title and
    submitter.

    Args:
        limit (int | Unset):
        offset (int | Unset):
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[LiveEventDto]]
    """

    kwargs = _get_kwargs(
        limit=limit,
        offset=offset,
        ticket_id=ticket_id,
        types=types,
        since_seq=since_seq,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    types: str | Unset = UNSET,
    since_seq: int | Unset = UNSET,
) -> ErrorBody | list[LiveEventDto] | None:
    """The global event feed across tickets, newest first, each with its ticket's title and
    submitter.

    Args:
        limit (int | Unset):
        offset (int | Unset):
        ticket_id (str | Unset):
        types (str | Unset):
        since_seq (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[LiveEventDto]
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            offset=offset,
            ticket_id=ticket_id,
            types=types,
            since_seq=since_seq,
        )
    ).parsed
