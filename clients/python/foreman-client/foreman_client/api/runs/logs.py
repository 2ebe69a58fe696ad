from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.log_line_dto import LogLineDto
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    level: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    follow: bool | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

    params: dict[str, Any] = {}

    params["level"] = level

    params["ticket_id"] = ticket_id

    params["since"] = since

    params["limit"] = limit

    params["cursor"] = cursor

    params["follow"] = follow

    params["token"] = token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/logs",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | list[LogLineDto] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = LogLineDto.from_dict(response_200_item_data)

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
) -> Response[ErrorBody | list[LogLineDto]]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    level: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    follow: bool | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> Response[ErrorBody | list[LogLineDto]]:
    """The server's own log lines, newest first, or followed live.

     Every line the server logs at the configured `[logs] level` or above is kept, with bounded
    retention (`[logs] max_lines` and `max_age`). A page holds the newest lines matching the
    filters; the `X-Next-Cursor` response header continues with older ones.

    With `follow=true` the answer is an event stream: the stored lines after `cursor` (or the
    `Last-Event-ID` header), else those since `since`, oldest first, then each new line as it
    is stored. Each event's `id` is the line's id, so a reconnecting client
    resumes where it stopped. Authenticate with `Authorization: Bearer` or `?token=`.

    Args:
        level (str | Unset):
        ticket_id (str | Unset):
        since (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        follow (bool | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[LogLineDto]]
    """

    kwargs = _get_kwargs(
        level=level,
        ticket_id=ticket_id,
        since=since,
        limit=limit,
        cursor=cursor,
        follow=follow,
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
    level: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    follow: bool | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> ErrorBody | list[LogLineDto] | None:
    """The server's own log lines, newest first, or followed live.

     Every line the server logs at the configured `[logs] level` or above is kept, with bounded
    retention (`[logs] max_lines` and `max_age`). A page holds the newest lines matching the
    filters; the `X-Next-Cursor` response header continues with older ones.

    With `follow=true` the answer is an event stream: the stored lines after `cursor` (or the
    `Last-Event-ID` header), else those since `since`, oldest first, then each new line as it
    is stored. Each event's `id` is the line's id, so a reconnecting client
    resumes where it stopped. Authenticate with `Authorization: Bearer` or `?token=`.

    Args:
        level (str | Unset):
        ticket_id (str | Unset):
        since (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        follow (bool | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[LogLineDto]
    """

    return sync_detailed(
        client=client,
        level=level,
        ticket_id=ticket_id,
        since=since,
        limit=limit,
        cursor=cursor,
        follow=follow,
        token=token,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    level: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    follow: bool | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> Response[ErrorBody | list[LogLineDto]]:
    """The server's own log lines, newest first, or followed live.

     Every line the server logs at the configured `[logs] level` or above is kept, with bounded
    retention (`[logs] max_lines` and `max_age`). A page holds the newest lines matching the
    filters; the `X-Next-Cursor` response header continues with older ones.

    With `follow=true` the answer is an event stream: the stored lines after `cursor` (or the
    `Last-Event-ID` header), else those since `since`, oldest first, then each new line as it
    is stored. Each event's `id` is the line's id, so a reconnecting client
    resumes where it stopped. Authenticate with `Authorization: Bearer` or `?token=`.

    Args:
        level (str | Unset):
        ticket_id (str | Unset):
        since (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        follow (bool | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[LogLineDto]]
    """

    kwargs = _get_kwargs(
        level=level,
        ticket_id=ticket_id,
        since=since,
        limit=limit,
        cursor=cursor,
        follow=follow,
        token=token,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    level: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    follow: bool | Unset = UNSET,
    token: str | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,
) -> ErrorBody | list[LogLineDto] | None:
    """The server's own log lines, newest first, or followed live.

     Every line the server logs at the configured `[logs] level` or above is kept, with bounded
    retention (`[logs] max_lines` and `max_age`). A page holds the newest lines matching the
    filters; the `X-Next-Cursor` response header continues with older ones.

    With `follow=true` the answer is an event stream: the stored lines after `cursor` (or the
    `Last-Event-ID` header), else those since `since`, oldest first, then each new line as it
    is stored. Each event's `id` is the line's id, so a reconnecting client
    resumes where it stopped. Authenticate with `Authorization: Bearer` or `?token=`.

    Args:
        level (str | Unset):
        ticket_id (str | Unset):
        since (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        follow (bool | Unset):
        token (str | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[LogLineDto]
    """

    return (
        await asyncio_detailed(
            client=client,
            level=level,
            ticket_id=ticket_id,
            since=since,
            limit=limit,
            cursor=cursor,
            follow=follow,
            token=token,
            last_event_id=last_event_id,
        )
    ).parsed
