from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.validate_body import ValidateBody
from ...models.violation_list import ViolationList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    project: str,
    *,
    body: ValidateBody,
    include_proposed: bool | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["include_proposed"] = include_proposed

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/rules/{project}/validate".format(
            project=quote(str(project), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | ViolationList | None:
    if response.status_code == 200:
        response_200 = ViolationList.from_dict(response.json())

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
) -> Response[ErrorBody | ViolationList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    project: str,
    *,
    client: AuthenticatedClient | Client,
    body: ValidateBody,
    include_proposed: bool | Unset = UNSET,
) -> Response[ErrorBody | ViolationList]:
    """Runs the project's accepted rules (and the proposed ones with `include_proposed=true`) over
    one file, every line counting as added. Changes nothing, but is a `POST` with a body, so it
    needs `write` like every other `POST`.

    Args:
        project (str):
        include_proposed (bool | Unset):
        body (ValidateBody): A file to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ViolationList]
    """

    kwargs = _get_kwargs(
        project=project,
        body=body,
        include_proposed=include_proposed,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    project: str,
    *,
    client: AuthenticatedClient | Client,
    body: ValidateBody,
    include_proposed: bool | Unset = UNSET,
) -> ErrorBody | ViolationList | None:
    """Runs the project's accepted rules (and the proposed ones with `include_proposed=true`) over
    one file, every line counting as added. Changes nothing, but is a `POST` with a body, so it
    needs `write` like every other `POST`.

    Args:
        project (str):
        include_proposed (bool | Unset):
        body (ValidateBody): A file to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ViolationList
    """

    return sync_detailed(
        project=project,
        client=client,
        body=body,
        include_proposed=include_proposed,
    ).parsed


async def asyncio_detailed(
    project: str,
    *,
    client: AuthenticatedClient | Client,
    body: ValidateBody,
    include_proposed: bool | Unset = UNSET,
) -> Response[ErrorBody | ViolationList]:
    """Runs the project's accepted rules (and the proposed ones with `include_proposed=true`) over
    one file, every line counting as added. Changes nothing, but is a `POST` with a body, so it
    needs `write` like every other `POST`.

    Args:
        project (str):
        include_proposed (bool | Unset):
        body (ValidateBody): A file to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ViolationList]
    """

    kwargs = _get_kwargs(
        project=project,
        body=body,
        include_proposed=include_proposed,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    project: str,
    *,
    client: AuthenticatedClient | Client,
    body: ValidateBody,
    include_proposed: bool | Unset = UNSET,
) -> ErrorBody | ViolationList | None:
    """Runs the project's accepted rules (and the proposed ones with `include_proposed=true`) over
    one file, every line counting as added. Changes nothing, but is a `POST` with a body, so it
    needs `write` like every other `POST`.

    Args:
        project (str):
        include_proposed (bool | Unset):
        body (ValidateBody): A file to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ViolationList
    """

    return (
        await asyncio_detailed(
            project=project,
            client=client,
            body=body,
            include_proposed=include_proposed,
        )
    ).parsed
