from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.ticket_summaries_sort import TicketSummariesSort
from ...models.ticket_summary import TicketSummary
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: str | Unset = UNSET,
    project: str | Unset = UNSET,
    search: str | Unset = UNSET,
    submitter: str | Unset = UNSET,
    sort: TicketSummariesSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["status"] = status

    params["project"] = project

    params["search"] = search

    params["submitter"] = submitter

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    params["limit"] = limit

    params["offset"] = offset

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/ticket-summaries",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | list[TicketSummary] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = TicketSummary.from_dict(response_200_item_data)

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
) -> Response[ErrorBody | list[TicketSummary]]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: str | Unset = UNSET,
    project: str | Unset = UNSET,
    search: str | Unset = UNSET,
    submitter: str | Unset = UNSET,
    sort: TicketSummariesSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[ErrorBody | list[TicketSummary]]:
    """Compact ticket cards for the dashboard's list view (same filters and caps as the list).

    Args:
        status (str | Unset):
        project (str | Unset):
        search (str | Unset):
        submitter (str | Unset):
        sort (TicketSummariesSort | Unset): The order of a ticket list.
        limit (int | Unset):
        offset (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[TicketSummary]]
    """

    kwargs = _get_kwargs(
        status=status,
        project=project,
        search=search,
        submitter=submitter,
        sort=sort,
        limit=limit,
        offset=offset,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    status: str | Unset = UNSET,
    project: str | Unset = UNSET,
    search: str | Unset = UNSET,
    submitter: str | Unset = UNSET,
    sort: TicketSummariesSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> ErrorBody | list[TicketSummary] | None:
    """Compact ticket cards for the dashboard's list view (same filters and caps as the list).

    Args:
        status (str | Unset):
        project (str | Unset):
        search (str | Unset):
        submitter (str | Unset):
        sort (TicketSummariesSort | Unset): The order of a ticket list.
        limit (int | Unset):
        offset (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[TicketSummary]
    """

    return sync_detailed(
        client=client,
        status=status,
        project=project,
        search=search,
        submitter=submitter,
        sort=sort,
        limit=limit,
        offset=offset,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: str | Unset = UNSET,
    project: str | Unset = UNSET,
    search: str | Unset = UNSET,
    submitter: str | Unset = UNSET,
    sort: TicketSummariesSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[ErrorBody | list[TicketSummary]]:
    """Compact ticket cards for the dashboard's list view (same filters and caps as the list).

    Args:
        status (str | Unset):
        project (str | Unset):
        search (str | Unset):
        submitter (str | Unset):
        sort (TicketSummariesSort | Unset): The order of a ticket list.
        limit (int | Unset):
        offset (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | list[TicketSummary]]
    """

    kwargs = _get_kwargs(
        status=status,
        project=project,
        search=search,
        submitter=submitter,
        sort=sort,
        limit=limit,
        offset=offset,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    status: str | Unset = UNSET,
    project: str | Unset = UNSET,
    search: str | Unset = UNSET,
    submitter: str | Unset = UNSET,
    sort: TicketSummariesSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> ErrorBody | list[TicketSummary] | None:
    """Compact ticket cards for the dashboard's list view (same filters and caps as the list).

    Args:
        status (str | Unset):
        project (str | Unset):
        search (str | Unset):
        submitter (str | Unset):
        sort (TicketSummariesSort | Unset): The order of a ticket list.
        limit (int | Unset):
        offset (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | list[TicketSummary]
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            project=project,
            search=search,
            submitter=submitter,
            sort=sort,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    ).parsed
