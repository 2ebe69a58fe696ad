"""Drives a running Foreman server's MCP endpoint with the official MCP Python SDK.

Usage: FOREMAN_TOKEN=<write token> [FOREMAN_READ_TOKEN=<read token>] python3 drive.py <base url>

Connects over Streamable HTTP with a bearer token, lists the tools, creates a ticket, reads it
back, cancels it, reads it as a resource and, given a read-only token, checks that a mutating
tool refuses it. Prints one line per check and exits non-zero on the first failure.
"""

import asyncio
import json
import os
import sys

import mcp
from mcp import ClientSession
from mcp.client import streamable_http

# the SDK renamed its transport between major versions; take whichever this one has
connect = getattr(streamable_http, "streamable_http_client", None) or getattr(
    streamable_http, "streamablehttp_client"
)

EXPECTED_TOOLS = {
    "list_tickets",
    "search_tickets",
    "get_ticket",
    "create_ticket",
    "retry_ticket",
    "cancel_ticket",
    "cost_summary",
    "get_budget",
    "daemon_status",
    "pause_daemon",
    "resume_daemon",
    "list_notifications",
}


def check(what: str, ok: bool, detail: object = "") -> None:
    if not ok:
        raise AssertionError(f"{what}: {detail}")
    print(f"ok: {what}", flush=True)


async def session_for(url: str, token: str, run) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    http = streamable_http.create_mcp_http_client(headers=headers)
    async with http:
        async with connect(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                check(
                    "initialize",
                    init.server_info.name == "foreman"
                    and init.protocol_version in ("2025-06-18", "2025-03-26"),
                    init,
                )
                await run(session)


async def as_writer(session: ClientSession) -> None:
    tools = await session.list_tools()
    names = {t.name for t in tools.tools}
    check("tools/list names every tool", names == EXPECTED_TOOLS, sorted(names))

    created = await session.call_tool(
        "create_ticket",
        {"prompt": "Add a health check\nthat answers 200", "priority": "high", "tags": ["mcp"]},
    )
    check("create_ticket", not created.is_error, created)
    ticket = created.structured_content
    check("created ticket is queued", ticket["status"] == "queued", ticket)
    check("title from the prompt", ticket["title"] == "Add a health check", ticket)
    ticket_id = ticket["id"]
    check(
        "text content is the same JSON",
        json.loads(created.content[0].text)["id"] == ticket_id,
        created.content,
    )

    got = await session.call_tool("get_ticket", {"id": ticket_id})
    check("get_ticket", not got.is_error and got.structured_content["ticket"]["id"] == ticket_id, got)
    check("get_ticket has tasks and costs", "tasks" in got.structured_content and "costs" in got.structured_content, got)

    cancelled = await session.call_tool("cancel_ticket", {"id": ticket_id})
    check("cancel_ticket", not cancelled.is_error and cancelled.structured_content["status"] == "cancelled", cancelled)

    again = await session.call_tool("cancel_ticket", {"id": ticket_id})
    check("cancelling twice is a tool error (409)", again.is_error and again.structured_content["code"] == 409, again)

    templates = await session.list_resource_templates()
    check(
        "resource templates",
        {t.uri_template for t in templates.resource_templates}
        == {"foreman://tickets/{id}", "foreman://tickets/{id}/tasks/{task_id}"},
        templates,
    )
    resource = await session.read_resource(f"foreman://tickets/{ticket_id}")
    document = json.loads(resource.contents[0].text)
    check("the ticket resource shows it failed", document["status"] == "failed", document)
    check("the ticket resource has its tasks", document["tasks"] == [], document)

    listed = await session.call_tool("list_tickets", {"status": "failed"})
    check("list_tickets by status", any(t["id"] == ticket_id for t in listed.structured_content["items"]), listed)


async def as_reader(session: ClientSession) -> None:
    refused = await session.call_tool("create_ticket", {"prompt": "not allowed"})
    check(
        "a read token is refused a mutating tool",
        refused.is_error
        and refused.structured_content == {"error": "token lacks the write scope", "code": 403},
        refused,
    )
    status = await session.call_tool("daemon_status", {})
    check("a read token may read", not status.is_error, status)


async def main() -> None:
    url = sys.argv[1].rstrip("/") + "/mcp"
    print(f"mcp python sdk {getattr(mcp, '__version__', '')} against {url}", flush=True)
    await session_for(url, os.environ["FOREMAN_TOKEN"], as_writer)
    reader = os.environ.get("FOREMAN_READ_TOKEN")
    if reader:
        await session_for(url, reader, as_reader)
    print("mcp client: all checks passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
