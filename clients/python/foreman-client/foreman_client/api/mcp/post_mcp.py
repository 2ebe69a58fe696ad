from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.post_mcp_body import PostMcpBody
from ...models.post_mcp_response_200 import PostMcpResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: PostMcpBody,
    mcp_session_id: None | str | Unset = UNSET,
    mcp_protocol_version: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(mcp_session_id, Unset):
        headers["mcp-session-id"] = mcp_session_id

    if not isinstance(mcp_protocol_version, Unset):
        headers["mcp-protocol-version"] = mcp_protocol_version

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/mcp",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | PostMcpResponse200 | None:
    if response.status_code == 200:
        response_200 = PostMcpResponse200.from_dict(response.json())

        return response_200

    if response.status_code == 202:
        response_202 = cast(Any, None)
        return response_202

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

    if response.status_code == 406:
        response_406 = ErrorBody.from_dict(response.json())

        return response_406

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
) -> Response[Any | ErrorBody | PostMcpResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: PostMcpBody,
    mcp_session_id: None | str | Unset = UNSET,
    mcp_protocol_version: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody | PostMcpResponse200]:
    """Send MCP messages (JSON-RPC 2.0): one message, or with protocol 2025-03-26 a batch.

     Methods: `initialize` (answers with an `Mcp-Session-Id` header), `ping`, `tools/list`,
    `tools/call`, `resources/list`, `resources/templates/list`, `resources/read`; notifications
    are accepted with a 202 and no body. The answer is a JSON-RPC response (an array for a
    batch). A body that is not JSON or not JSON-RPC is a 400 whose JSON error body names the
    JSON-RPC error (`-32700`, `-32600`). See docs/api.md, "MCP server", for the tools and the
    scopes they need.

    Args:
        mcp_session_id (None | str | Unset):
        mcp_protocol_version (None | str | Unset):
        body (PostMcpBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | PostMcpResponse200]
    """

    kwargs = _get_kwargs(
        body=body,
        mcp_session_id=mcp_session_id,
        mcp_protocol_version=mcp_protocol_version,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: PostMcpBody,
    mcp_session_id: None | str | Unset = UNSET,
    mcp_protocol_version: None | str | Unset = UNSET,
) -> Any | ErrorBody | PostMcpResponse200 | None:
    """Send MCP messages (JSON-RPC 2.0): one message, or with protocol 2025-03-26 a batch.

     Methods: `initialize` (answers with an `Mcp-Session-Id` header), `ping`, `tools/list`,
    `tools/call`, `resources/list`, `resources/templates/list`, `resources/read`; notifications
    are accepted with a 202 and no body. The answer is a JSON-RPC response (an array for a
    batch). A body that is not JSON or not JSON-RPC is a 400 whose JSON error body names the
    JSON-RPC error (`-32700`, `-32600`). See docs/api.md, "MCP server", for the tools and the
    scopes they need.

    Args:
        mcp_session_id (None | str | Unset):
        mcp_protocol_version (None | str | Unset):
        body (PostMcpBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | PostMcpResponse200
    """

    return sync_detailed(
        client=client,
        body=body,
        mcp_session_id=mcp_session_id,
        mcp_protocol_version=mcp_protocol_version,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: PostMcpBody,
    mcp_session_id: None | str | Unset = UNSET,
    mcp_protocol_version: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody | PostMcpResponse200]:
    """Send MCP messages (JSON-RPC 2.0): one message, or with protocol 2025-03-26 a batch.

     Methods: `initialize` (answers with an `Mcp-Session-Id` header), `ping`, `tools/list`,
    `tools/call`, `resources/list`, `resources/templates/list`, `resources/read`; notifications
    are accepted with a 202 and no body. The answer is a JSON-RPC response (an array for a
    batch). A body that is not JSON or not JSON-RPC is a 400 whose JSON error body names the
    JSON-RPC error (`-32700`, `-32600`). See docs/api.md, "MCP server", for the tools and the
    scopes they need.

    Args:
        mcp_session_id (None | str | Unset):
        mcp_protocol_version (None | str | Unset):
        body (PostMcpBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | PostMcpResponse200]
    """

    kwargs = _get_kwargs(
        body=body,
        mcp_session_id=mcp_session_id,
        mcp_protocol_version=mcp_protocol_version,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: PostMcpBody,
    mcp_session_id: None | str | Unset = UNSET,
    mcp_protocol_version: None | str | Unset = UNSET,
) -> Any | ErrorBody | PostMcpResponse200 | None:
    """Send MCP messages (JSON-RPC 2.0): one message, or with protocol 2025-03-26 a batch.

     Methods: `initialize` (answers with an `Mcp-Session-Id` header), `ping`, `tools/list`,
    `tools/call`, `resources/list`, `resources/templates/list`, `resources/read`; notifications
    are accepted with a 202 and no body. The answer is a JSON-RPC response (an array for a
    batch). A body that is not JSON or not JSON-RPC is a 400 whose JSON error body names the
    JSON-RPC error (`-32700`, `-32600`). See docs/api.md, "MCP server", for the tools and the
    scopes they need.

    Args:
        mcp_session_id (None | str | Unset):
        mcp_protocol_version (None | str | Unset):
        body (PostMcpBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | PostMcpResponse200
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            mcp_session_id=mcp_session_id,
            mcp_protocol_version=mcp_protocol_version,
        )
    ).parsed
