from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.usage_batch_in import UsageBatchIn
from ...models.usage_ingested import UsageIngested
from ...models.usage_row_in import UsageRowIn
from ...types import Response


def _get_kwargs(
    *,
    body: UsageBatchIn | UsageRowIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/llm/usage",
    }

    if isinstance(body, UsageBatchIn):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | UsageIngested | None:
    if response.status_code == 200:
        response_200 = UsageIngested.from_dict(response.json())

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
) -> Response[ErrorBody | UsageIngested]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: UsageBatchIn | UsageRowIn,
) -> Response[ErrorBody | UsageIngested]:
    """Records LLM usage made outside Foreman: one row, or a batch of up to 500 as
    `{"items": [...]}`, all or nothing. Rows count in costs and budgets like Foreman's own calls
    (`source` `external`); rows without `cost_usd` are priced from the price table. Every bad
    value is a 400 naming its item and field (`items[3].model`); a row whose `id` was already
    recorded is skipped (`duplicates`).

    Args:
        body (UsageBatchIn | UsageRowIn): One row, or a batch as `{"items": [...]}`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | UsageIngested]
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
    body: UsageBatchIn | UsageRowIn,
) -> ErrorBody | UsageIngested | None:
    """Records LLM usage made outside Foreman: one row, or a batch of up to 500 as
    `{"items": [...]}`, all or nothing. Rows count in costs and budgets like Foreman's own calls
    (`source` `external`); rows without `cost_usd` are priced from the price table. Every bad
    value is a 400 naming its item and field (`items[3].model`); a row whose `id` was already
    recorded is skipped (`duplicates`).

    Args:
        body (UsageBatchIn | UsageRowIn): One row, or a batch as `{"items": [...]}`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | UsageIngested
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: UsageBatchIn | UsageRowIn,
) -> Response[ErrorBody | UsageIngested]:
    """Records LLM usage made outside Foreman: one row, or a batch of up to 500 as
    `{"items": [...]}`, all or nothing. Rows count in costs and budgets like Foreman's own calls
    (`source` `external`); rows without `cost_usd` are priced from the price table. Every bad
    value is a 400 naming its item and field (`items[3].model`); a row whose `id` was already
    recorded is skipped (`duplicates`).

    Args:
        body (UsageBatchIn | UsageRowIn): One row, or a batch as `{"items": [...]}`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | UsageIngested]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: UsageBatchIn | UsageRowIn,
) -> ErrorBody | UsageIngested | None:
    """Records LLM usage made outside Foreman: one row, or a batch of up to 500 as
    `{"items": [...]}`, all or nothing. Rows count in costs and budgets like Foreman's own calls
    (`source` `external`); rows without `cost_usd` are priced from the price table. Every bad
    value is a 400 naming its item and field (`items[3].model`); a row whose `id` was already
    recorded is skipped (`duplicates`).

    Args:
        body (UsageBatchIn | UsageRowIn): One row, or a batch as `{"items": [...]}`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | UsageIngested
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
