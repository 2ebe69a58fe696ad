from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.rule_dto import RuleDto
from ...types import Response


def _get_kwargs(
    project: str,
    rule_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/rules/{project}/{rule_id}/reject".format(
            project=quote(str(project), safe=""),
            rule_id=quote(str(rule_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | RuleDto | None:
    if response.status_code == 200:
        response_200 = RuleDto.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | RuleDto]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    project: str,
    rule_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | RuleDto]:
    """Rejects a rule: it is kept (so a reviewer does not propose it again) and never enforced.
    Rejecting a rejected rule changes nothing and answers 200.

    Args:
        project (str):
        rule_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RuleDto]
    """

    kwargs = _get_kwargs(
        project=project,
        rule_id=rule_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    project: str,
    rule_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | RuleDto | None:
    """Rejects a rule: it is kept (so a reviewer does not propose it again) and never enforced.
    Rejecting a rejected rule changes nothing and answers 200.

    Args:
        project (str):
        rule_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RuleDto
    """

    return sync_detailed(
        project=project,
        rule_id=rule_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    project: str,
    rule_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | RuleDto]:
    """Rejects a rule: it is kept (so a reviewer does not propose it again) and never enforced.
    Rejecting a rejected rule changes nothing and answers 200.

    Args:
        project (str):
        rule_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RuleDto]
    """

    kwargs = _get_kwargs(
        project=project,
        rule_id=rule_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    project: str,
    rule_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | RuleDto | None:
    """Rejects a rule: it is kept (so a reviewer does not propose it again) and never enforced.
    Rejecting a rejected rule changes nothing and answers 200.

    Args:
        project (str):
        rule_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RuleDto
    """

    return (
        await asyncio_detailed(
            project=project,
            rule_id=rule_id,
            client=client,
        )
    ).parsed
