"""The generated Python client against a running Foreman server.

Environment:
    FOREMAN_URL    the server's base URL, e.g. http://127.0.0.1:8080
    FOREMAN_TOKEN  a token with the `admin` scope (or `read` and `write`)

The server should not be claiming tickets (`FOREMAN_DAEMON_ENABLED=false`, or the daemon
paused): the test expects the tickets it creates to stay `queued` until it cancels them.

Run with the generated package on the path and only the standard library, httpx and attrs
installed:

    PYTHONPATH=clients/python/foreman-client python3 clients/python/tests/test_live.py

`tests/tests/python_client.rs` starts a server and runs this script that way.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import sys
import unittest
import uuid

from foreman_client import AuthenticatedClient, Client
from foreman_client.api.costs import budget, cost_breakdown, cost_today
from foreman_client.api.system import health
from foreman_client.api.tickets import (
    cancel_ticket,
    create_ticket,
    get_ticket,
    list_tickets,
    retry_ticket,
)
from foreman_client.models import (
    BudgetStatus,
    CostReportDto,
    CreateTicket,
    DayCost,
    ErrorBody,
    PriorityName,
    TicketCancelled,
    TicketDetail,
    TicketDetailStatus,
    TicketListItem,
    TicketListItemStatus,
    TicketRetrying,
)

BASE_URL = os.environ.get("FOREMAN_URL", "")
TOKEN = os.environ.get("FOREMAN_TOKEN", "")


def client() -> AuthenticatedClient:
    """A client with the bearer token that raises on any status the document does not list."""
    return AuthenticatedClient(base_url=BASE_URL, token=TOKEN, raise_on_unexpected_status=True)


class LiveServer(unittest.TestCase):
    def setUp(self) -> None:
        self.client = client()
        # A prefix of this run's own, so a server with other tickets does not confuse the lists.
        self.run_id = uuid.uuid4().hex[:8]

    def tearDown(self) -> None:
        self.client.get_httpx_client().close()

    def create(self, n: int, **fields) -> TicketDetail:
        body = CreateTicket(
            title=f"python client {self.run_id} #{n}",
            external_id=f"PY-{self.run_id}-{n}",
            description="created by the generated Python client",
            labels=["python-client"],
            **fields,
        )
        resp = create_ticket.sync_detailed(client=self.client, body=body)
        self.assertEqual(resp.status_code, 201, resp.content)
        self.assertIsInstance(resp.parsed, TicketDetail)
        return resp.parsed

    def status_of(self, ticket_id: str) -> TicketDetailStatus:
        detail = get_ticket.sync(ticket_id, client=self.client)
        self.assertIsInstance(detail, TicketDetail)
        return detail.status

    def test_health_needs_no_token(self) -> None:
        with Client(base_url=BASE_URL, raise_on_unexpected_status=True) as anonymous:
            resp = health.sync_detailed(client=anonymous)
        self.assertEqual(resp.status_code, 200, resp.content)

    def test_create_list_retry_cancel(self) -> None:
        first = self.create(1, priority=PriorityName.HIGH, tags=["py"])
        self.assertEqual(first.status, TicketDetailStatus.QUEUED)
        self.assertEqual(first.external_id, f"PY-{self.run_id}-1")
        self.assertEqual(first.title, f"python client {self.run_id} #1")
        self.assertEqual(first.labels, ["python-client"])
        self.assertEqual(first.priority, 30)  # `high`
        self.assertIsInstance(first.created_at, datetime.datetime)
        self.assertIsNotNone(first.created_at.tzinfo)
        self.assertEqual(first.cost_usd, 0.0)
        second = self.create(2, priority=5)
        self.assertEqual(second.priority, 5)

        # The list: both tickets, typed, newest first; one per page through the cursor header.
        listed = list_tickets.sync(client=self.client, search=self.run_id)
        self.assertIsInstance(listed, list)
        self.assertTrue(all(isinstance(t, TicketListItem) for t in listed))
        self.assertEqual([t.id for t in listed], [second.id, first.id])
        self.assertTrue(all(t.status == TicketListItemStatus.QUEUED for t in listed))
        self.assertTrue(all(isinstance(t.updated_at, datetime.datetime) for t in listed))
        page = list_tickets.sync_detailed(client=self.client, search=self.run_id, limit=1)
        self.assertEqual(page.status_code, 200)
        self.assertEqual([t.id for t in page.parsed], [second.id])
        cursor = page.headers.get("x-next-cursor")
        self.assertTrue(cursor, "a first page of two has a next cursor")
        rest = list_tickets.sync_detailed(client=self.client, search=self.run_id, limit=1, cursor=cursor)
        self.assertEqual([t.id for t in rest.parsed], [first.id])
        self.assertIsNone(rest.headers.get("x-next-cursor"))

        # A queued ticket cannot be retried: the documented 409 with the JSON error body.
        refused = retry_ticket.sync_detailed(first.id, client=self.client)
        self.assertEqual(refused.status_code, 409)
        self.assertIsInstance(refused.parsed, ErrorBody)
        self.assertEqual(refused.parsed.code, 409)
        self.assertIn("queued", refused.parsed.error)

        # Cancelling makes it failed, which can be retried back to queued.
        cancelled = cancel_ticket.sync(first.id, client=self.client)
        self.assertIsInstance(cancelled, TicketCancelled)
        self.assertEqual(cancelled.status, "cancelled")
        self.assertEqual(cancelled.from_, "queued")
        self.assertEqual(cancelled.ticket_id, first.id)
        self.assertEqual(self.status_of(first.id), TicketDetailStatus.FAILED)
        failed = list_tickets.sync(client=self.client, search=self.run_id, status="failed")
        self.assertEqual([t.id for t in failed], [first.id])

        retried = retry_ticket.sync(first.id, client=self.client)
        self.assertIsInstance(retried, TicketRetrying)
        self.assertEqual(retried.status, "retrying")
        self.assertEqual(retried.ticket_id, first.id)
        self.assertEqual(self.status_of(first.id), TicketDetailStatus.QUEUED)

        # Cancel both; a finished ticket cannot be cancelled again (409).
        for ticket in (first, second):
            done = cancel_ticket.sync(ticket.id, client=self.client)
            self.assertIsInstance(done, TicketCancelled)
        again = cancel_ticket.sync_detailed(second.id, client=self.client)
        self.assertEqual(again.status_code, 409)
        self.assertIsInstance(again.parsed, ErrorBody)
        self.assertEqual(again.parsed.code, 409)
        left = list_tickets.sync(client=self.client, search=self.run_id, status="queued")
        self.assertEqual(left, [])

    def test_costs(self) -> None:
        today = cost_today.sync(client=self.client)
        self.assertIsInstance(today, DayCost)
        self.assertIsInstance(today.date, datetime.date)
        self.assertGreaterEqual(today.cost_usd, 0.0)

        report = cost_breakdown.sync(client=self.client, group_by="model")
        self.assertIsInstance(report, CostReportDto)
        self.assertEqual(report.group_by, "model")
        self.assertLess(report.from_, report.to)
        self.assertGreaterEqual(report.total.cost_usd, 0.0)
        self.assertEqual(report.total.calls, sum(g.calls for g in report.groups))

        bad = cost_breakdown.sync_detailed(client=self.client, group_by="colour")
        self.assertEqual(bad.status_code, 400)
        self.assertIsInstance(bad.parsed, ErrorBody)
        self.assertIn("group_by", bad.parsed.error)

        limits = budget.sync(client=self.client)
        self.assertIsInstance(limits, BudgetStatus)
        self.assertIsInstance(limits.exceeded, bool)

    def test_errors_are_typed(self) -> None:
        with Client(base_url=BASE_URL, raise_on_unexpected_status=True) as anonymous:
            denied = list_tickets.sync_detailed(client=anonymous)
        self.assertEqual(denied.status_code, 401)
        self.assertIsInstance(denied.parsed, ErrorBody)
        self.assertEqual(denied.parsed.code, 401)

        missing = get_ticket.sync_detailed(str(uuid.uuid4()), client=self.client)
        self.assertEqual(missing.status_code, 404)
        self.assertIsInstance(missing.parsed, ErrorBody)
        self.assertEqual(missing.parsed.code, 404)

        invalid = create_ticket.sync_detailed(client=self.client, body=CreateTicket(title=" "))
        self.assertEqual(invalid.status_code, 400)
        self.assertIsInstance(invalid.parsed, ErrorBody)

    def test_async_client(self) -> None:
        ticket = self.create(3)

        async def both() -> tuple[TicketDetail, list[TicketListItem]]:
            async with client() as c:
                one = await get_ticket.asyncio(ticket.id, client=c)
                many = await list_tickets.asyncio(client=c, search=self.run_id)
                return one, many

        one, many = asyncio.run(both())
        self.assertIsInstance(one, TicketDetail)
        self.assertEqual(one.id, ticket.id)
        self.assertEqual([t.id for t in many], [ticket.id])
        self.assertIsInstance(cancel_ticket.sync(ticket.id, client=self.client), TicketCancelled)


def main() -> int:
    if not BASE_URL or not TOKEN:
        print("set FOREMAN_URL and FOREMAN_TOKEN to a running server and its token", file=sys.stderr)
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(LiveServer)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
