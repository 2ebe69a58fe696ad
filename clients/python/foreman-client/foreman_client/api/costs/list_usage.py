from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.usage_page_dto import UsagePageDto
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    provider: str | Unset = UNSET,
    model: str | Unset = UNSET,
    project: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    session_tag: str | Unset = UNSET,
    source: str | Unset = UNSET,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["provider"] = provider

    params["model"] = model

    params["project"] = project

    params["ticket_id"] = ticket_id

    params["session_tag"] = session_tag

    params["source"] = source

    params["from"] = from_

    params["to"] = to

    params["cursor"] = cursor

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/llm/usage",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | UsagePageDto | None:
    if response.status_code == 200:
        response_200 = UsagePageDto.from_dict(response.json())

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
) -> Response[ErrorBody | UsagePageDto]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    provider: str | Unset = UNSET,
    model: str | Unset = UNSET,
    project: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    session_tag: str | Unset = UNSET,
    source: str | Unset = UNSET,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[ErrorBody | UsagePageDto]:
    """LLM calls, Foreman's own (`source` `foreman`) and reported ones (`external`), newest first,
    filtered; pages go on with `cursor`.

    Args:
        provider (str | Unset):
        model (str | Unset):
        project (str | Unset):
        ticket_id (str | Unset):
        session_tag (str | Unset):
        source (str | Unset):
        from_ (str | Unset):
        to (str | Unset):
        cursor (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | UsagePageDto]
    """

    kwargs = _get_kwargs(
        provider=provider,
        model=model,
        project=project,
        ticket_id=ticket_id,
        session_tag=session_tag,
        source=source,
        from_=from_,
        to=to,
        cursor=cursor,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    provider: str | Unset = UNSET,
    model: str | Unset = UNSET,
    project: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    session_tag: str | Unset = UNSET,
    source: str | Unset = UNSET,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> ErrorBody | UsagePageDto | None:
    """LLM calls, Foreman's own (`source` `foreman`) and reported ones (`external`), newest first,
    filtered; pages go on with `cursor`.

    Args:
        provider (str | Unset):
        model (str | Unset):
        project (str | Unset):
        ticket_id (str | Unset):
        session_tag (str | Unset):
        source (str | Unset):
        from_ (str | Unset):
        to (str | Unset):
        cursor (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | UsagePageDto
    """

    return sync_detailed(
        client=client,
        provider=provider,
        model=model,
        project=project,
        ticket_id=ticket_id,
        session_tag=session_tag,
        source=source,
        from_=from_,
        to=to,
        cursor=cursor,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    provider: str | Unset = UNSET,
    model: str | Unset = UNSET,
    project: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    session_tag: str | Unset = UNSET,
    source: str | Unset = UNSET,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[ErrorBody | UsagePageDto]:
    """LLM calls, Foreman's own (`source` `foreman`) and reported ones (`external`), newest first,
    filtered; pages go on with `cursor`.

    Args:
        provider (str | Unset):
        model (str | Unset):
        project (str | Unset):
        ticket_id (str | Unset):
        session_tag (str | Unset):
        source (str | Unset):
        from_ (str | Unset):
        to (str | Unset):
        cursor (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | UsagePageDto]
    """

    kwargs = _get_kwargs(
        provider=provider,
        model=model,
        project=project,
        ticket_id=ticket_id,
        session_tag=session_tag,
        source=source,
        from_=from_,
        to=to,
        cursor=cursor,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    provider: str | Unset = UNSET,
    model: str | Unset = UNSET,
    project: str | Unset = UNSET,
    ticket_id: str | Unset = UNSET,
    session_tag: str | Unset = UNSET,
    source: str | Unset = UNSET,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> ErrorBody | UsagePageDto | None:
    """LLM calls, Foreman's own (`source` `foreman`) and reported ones (`external`), newest first,
    filtered; pages go on with `cursor`.

    Args:
        provider (str | Unset):
        model (str | Unset):
        project (str | Unset):
        ticket_id (str | Unset):
        session_tag (str | Unset):
        source (str | Unset):
        from_ (str | Unset):
        to (str | Unset):
        cursor (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | UsagePageDto
    """

    return (
        await asyncio_detailed(
            client=client,
            provider=provider,
            model=model,
            project=project,
            ticket_id=ticket_id,
            session_tag=session_tag,
            source=source,
            from_=from_,
            to=to,
            cursor=cursor,
            limit=limit,
        )
    ).parsed
