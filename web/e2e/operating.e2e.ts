// Operating Foreman from the dashboard, in Debian's Chromium: notifications, run progress,
// search, cancel, checkpoints and rollback, the diff viewer and the transcript timeline.
//
// Two servers: the suite's stack (no repository, so tickets stay queued) for search and cancel,
// and a second one started here with `--demo` (a sample repository and the scripted provider),
// whose demo ticket really runs through the pipeline: it leaves a run, checkpoints, a
// transcript and a retrospective, and spends enough for a budget notification.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './stack';
import { type Browser, apiCall, createTicket, ctx, launch, snapshot, withPage } from './harness';

let browser: Browser;
let demo: Stack;
let demoTicket: { id: string; external_id: string };
const run = Date.now().toString(36);

async function demoApi<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(demo.api + path, {
    method,
    headers: { authorization: `Bearer ${demo.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Signs in to `stack` through the form and opens `path`. */
async function signInTo(page: Page, stack: { ui: string; token: string }, path: string) {
  await page.goto(stack.ui + path);
  await page.getByLabel('API token').fill(stack.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

const text = async (page: Page, testId: string) => ((await page.getByTestId(testId).first().textContent()) ?? '').replace(/\s+/g, ' ');
const toasts = (page: Page) => page.locator('[role="alert"], [role="status"]');

beforeAll(async () => {
  browser = await launch();
  demo = await startStack({
    build: false,
    demo: true,
    env: {
      FOREMAN_COST_DAILY_BUDGET: '0.5',
      FOREMAN_COST_MONTHLY_BUDGET: '0.5',
      FOREMAN_NOTIFICATIONS_BUDGET_INTERVAL: '1s',
      FOREMAN_NOTIFICATIONS_POLL_INTERVAL: '200ms',
      FOREMAN_RETROSPECTIVES_EVERY: '1',
    },
  });
  // The demo ticket goes from queued to merged on its own (in a few seconds).
  const deadline = Date.now() + 90_000;
  for (;;) {
    const [t] = await demoApi<{ id: string; external_id: string; status: string }[]>('GET', '/api/tickets');
    if (t?.status === 'merged') {
      demoTicket = t;
      break;
    }
    if (Date.now() > deadline) throw new Error(`the demo ticket did not merge (status ${t?.status ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('notifications', () => {
  it('counts new notifications live in the badge, filters them and acknowledges one and all', async () => {
    await withPage(browser, 'notifications', async (page) => {
      await signInTo(page, demo, '/notifications');
      await expect.poll(() => page.getByTestId('live-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('open');
      await page.getByText('No notifications.').waitFor();
      expect(await page.getByTestId('notification-badge').count()).toBe(0);

      // The demo spent about 14% of the $0.50 daily and monthly budgets: lowering the alert
      // threshold to 10% fires one notification per period, announced as `notification_created`.
      await demoApi('PUT', '/api/notifications/triggers', { triggers: [{ id: 'budget_threshold', threshold: 10 }] });
      await expect.poll(() => text(page, 'notification-badge'), { timeout: 15_000 }).toBe('2');
      await expect.poll(() => page.getByTestId('notification-row').count()).toBe(2);
      expect(await text(page, 'notification-row')).toContain('spend reached');
      await snapshot(page, 'notifications');

      // Filters live in the URL and go to the API.
      await page.getByLabel('Severity', { exact: true }).selectOption('critical');
      await page.getByText('No notifications match these filters.').waitFor();
      expect(page.url()).toContain('severity=critical');
      await page.getByLabel('Severity', { exact: true }).selectOption('warning');
      await expect.poll(() => page.getByTestId('notification-row').count()).toBe(2);

      // Acknowledge one: the badge and the server agree.
      await page.getByTestId('notification-row').first().getByRole('button', { name: /^Acknowledge/ }).click();
      await expect.poll(() => text(page, 'notification-badge')).toBe('1');
      await expect.poll(async () => (await demoApi<{ unacknowledged: number }>('GET', '/api/notifications')).unacknowledged).toBe(1);
      await page.getByLabel('State', { exact: true }).selectOption('true');
      await expect.poll(() => page.getByTestId('notification-row').count()).toBe(1);
      expect(await page.getByTestId('notification-row').first().getAttribute('data-acknowledged')).toBe('true');

      // Acknowledge all.
      await page.getByLabel('State', { exact: true }).selectOption('');
      await page.getByRole('button', { name: 'Acknowledge all' }).click();
      await expect.poll(() => page.getByTestId('notification-badge').count()).toBe(0);
      await expect.poll(() => toasts(page).allTextContents()).toContainEqual(expect.stringContaining('1 notification acknowledged'));
      const after = await demoApi<{ unacknowledged: number; items: { acknowledged: boolean }[] }>('GET', '/api/notifications');
      expect(after.unacknowledged).toBe(0);
      expect(after.items.every((n) => n.acknowledged)).toBe(true);
    });
  });
});

describe('run progress', () => {
  it("shows the demo run's progress and cost in the header", async () => {
    const status = await demoApi<{ run: { completed: number; total: number; cost_usd: number } }>('GET', '/api/status');
    await withPage(browser, 'run-progress', async (page) => {
      await signInTo(page, demo, '/tickets');
      await expect.poll(() => text(page, 'run-completed')).toBe(`${status.run.completed} of ${status.run.total} ticket${status.run.total === 1 ? '' : 's'}`);
      expect(status.run.completed).toBeGreaterThanOrEqual(1);
      expect(await text(page, 'run-cost')).toMatch(/^\$0\.0\d+ so far$/);
      expect(await text(page, 'run-remaining')).toBe('nothing left');
      expect(await page.getByRole('progressbar', { name: 'Run progress' }).getAttribute('aria-valuenow')).toBe('100');
      await snapshot(page, 'run-progress');
    });
  });

  it('says why the daemon takes no work', async () => {
    await withPage(browser, 'not-taking-work', async (page) => {
      const status = await apiCall<{ not_taking_work_because: string | null; run: { completed: number; total: number } }>('GET', '/api/status');
      // The suite's server has no repository to work in.
      expect(status.not_taking_work_because).toBe('no_daemon');
      await signInTo(page, { ui: ctx().ui, token: ctx().token }, '/tickets');
      await expect.poll(() => text(page, 'not-taking-work')).toContain('Not taking work: no daemon');
      expect(await text(page, 'run-completed')).toMatch(/^\d+ of \d+ tickets?$/);
      // Pausing is a reason the header shows too, once the status is read again.
      await page.getByRole('button', { name: 'Pause daemon' }).click();
      await expect.poll(() => page.getByTestId('daemon-state').textContent()).toContain('paused');
      await page.getByRole('button', { name: 'Resume daemon' }).click();
      await expect.poll(() => page.getByTestId('daemon-state').textContent()).toContain('running');
    });
  });
});

describe('search', () => {
  it('ranks matches with highlighted snippets, safely, and pages with the cursor', async () => {
    const word = `quokka${run}`;
    const items = Array.from({ length: 20 }, (_, i) => ({
      title: `Search result ${i + 1} ${run}`,
      description: `Mentions ${word} once. <img src=x onerror="window.__xss=1"> stays text.`,
    }));
    await apiCall('POST', '/api/tickets/batch', { items });
    for (let i = 21; i <= 23; i++) await createTicket(`Search result ${i} ${run}`, { description: `${word} ${word} twice <script>window.__xss=2</script>` });
    await withPage(browser, 'search', async (page) => {
      await signInTo(page, { ui: ctx().ui, token: ctx().token }, '/tickets');
      await page.getByLabel('Search tickets').first().fill(word);
      await page.getByLabel('Search tickets').first().press('Enter');
      await page.getByRole('heading', { name: 'Search' }).waitFor();
      expect(new URL(page.url()).searchParams.get('q')).toBe(word);
      await expect.poll(() => page.getByTestId('search-result').count()).toBe(20);
      expect(await text(page, 'search-count')).toContain(`20+ results for “${word}”`);
      // Matched words are <mark>ed; markup in the text is shown, never run.
      const firstSnippet = page.getByTestId('search-snippet').first();
      expect(await firstSnippet.locator('mark').first().textContent()).toBe(word);
      expect(await page.locator('[data-testid="search-snippet"] img, [data-testid="search-snippet"] script').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect((await page.getByTestId('search-snippet').allTextContents()).join('\n')).toMatch(/<img src=x onerror=|<script>/);
      // The next page through the cursor: 23 in all, none twice.
      await page.getByRole('button', { name: 'More results' }).click();
      await expect.poll(() => page.getByTestId('search-result').count()).toBe(23);
      expect(await text(page, 'search-count')).toContain('23 results');
      const titles = await page.getByTestId('search-result').getByRole('link').allTextContents();
      expect(new Set(titles).size).toBe(23);
      await snapshot(page, 'search');
      // A result opens its ticket.
      await page.getByTestId('search-result').getByRole('link').first().click();
      await page.getByRole('navigation', { name: 'Breadcrumb' }).waitFor();
    });
  });
});

describe('cancel', () => {
  it('cancels a queued ticket after confirmation, and shows a 409 as a toast', async () => {
    const t = await createTicket(`Cancel me ${run}`);
    await withPage(browser, 'cancel', async (page) => {
      await signInTo(page, { ui: ctx().ui, token: ctx().token }, `/tickets/${t.id}`);
      await page.getByRole('heading', { name: `Cancel me ${run}` }).waitFor();
      await page.getByRole('button', { name: 'Cancel ticket' }).click();
      const dialog = page.getByRole('dialog', { name: `Cancel ${t.external_id}?` });
      await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
      expect((await apiCall<{ status: string }>('GET', `/api/tickets/${t.id}`)).status).toBe('queued');
      await page.getByRole('button', { name: 'Cancel ticket' }).click();
      await dialog.getByRole('button', { name: 'Cancel ticket' }).click();
      await expect.poll(() => toasts(page).allTextContents()).toContainEqual(expect.stringContaining('Ticket cancelled (it was queued)'));
      await expect.poll(() => page.getByTitle('ticket status: failed').count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Cancel ticket' }).isDisabled()).toBe(true);
      expect((await apiCall<{ status: string }>('GET', `/api/tickets/${t.id}`)).status).toBe('failed');
    });

    // Finished elsewhere while the page was open: the server's 409 comes back as a toast.
    const u = await createTicket(`Cancelled elsewhere ${run}`);
    await withPage(browser, 'cancel-409', async (page) => {
      await signInTo(page, { ui: ctx().ui, token: ctx().token }, `/tickets/${u.id}`);
      await page.getByRole('heading', { name: `Cancelled elsewhere ${run}` }).waitFor();
      // The dialog is open when another client cancels the ticket.
      await page.getByRole('button', { name: 'Cancel ticket' }).click();
      const dialog = page.getByRole('dialog', { name: `Cancel ${u.external_id}?` });
      await dialog.waitFor();
      await apiCall('POST', `/api/tickets/${u.id}/cancel`);
      await dialog.getByRole('button', { name: 'Cancel ticket' }).click();
      await expect.poll(() => toasts(page).allTextContents()).toContainEqual(expect.stringMatching(/Could not cancel: .*finished ticket cannot be cancelled/));
    });
  });
});

describe('ticket page: checkpoints, diff and transcript', () => {
  it('lists checkpoints and rolls back (409 from the server as a toast, success reported)', async () => {
    await withPage(browser, 'rollback', async (page) => {
      await signInTo(page, demo, `/tickets/${demoTicket.id}`);
      const rows = page.getByTestId('checkpoint-row');
      await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(1);
      const cps = await demoApi<{ checkpoints: { id: string; sequence: number; task: string; commit_sha: string }[] }>('GET', `/api/tickets/${demoTicket.id}/checkpoints`);
      const cp = cps.checkpoints[0];
      if (!cp) throw new Error('the demo ticket has no checkpoint');
      expect(await rows.first().textContent()).toContain(cp.commit_sha.slice(0, 8));
      expect(await rows.first().textContent()).toContain(cp.task);
      await page.getByTestId('checkpoints').scrollIntoViewIfNeeded();
      await snapshot(page, 'checkpoints');

      // A merged ticket cannot be rolled back: the server says so.
      await rows.first().getByRole('button', { name: 'Rollback' }).click();
      const dialog = page.getByRole('dialog', { name: `Roll back ${demoTicket.external_id} to task #${cp.sequence}?` });
      await dialog.getByRole('button', { name: 'Roll back' }).click();
      await expect.poll(() => toasts(page).allTextContents()).toContainEqual(expect.stringMatching(/Could not roll back: .*is merged/));

      // The success path, with the server's answer for a ticket that can be rolled back.
      let sent: unknown = null;
      await page.route(`**/api/tickets/${demoTicket.id}/rollback`, async (route) => {
        sent = route.request().postDataJSON();
        await route.fulfill({
          json: { ticket_id: demoTicket.id, from: 'failed', status: 'queued', branch_reset: true, checkpoint: cps.checkpoints[0], tasks_reset: ['t2', 't3'], checkpoints_dropped: [] },
        });
      });
      await rows.first().getByRole('button', { name: 'Rollback' }).click();
      await dialog.getByRole('button', { name: 'Roll back' }).click();
      await expect.poll(() => toasts(page).allTextContents()).toContainEqual(expect.stringContaining(`Rolled back to task #${cp.sequence}; 2 tasks back to pending`));
      expect(sent).toEqual({ checkpoint_id: cp.id });
    });
  });

  it("shows each task's transcript as a collapsible timeline", async () => {
    const tasks = await demoApi<{ id: string; title: string }[]>('GET', `/api/tickets/${demoTicket.id}/tasks`);
    const task = tasks[0];
    if (!task) throw new Error('the demo ticket has no task');
    const transcript = await demoApi<{ entries: { kind: string; tool?: string | null; text: string }[] }>('GET', `/api/tasks/${task.id}/transcript`);
    expect(transcript.entries.length).toBeGreaterThan(3);
    await withPage(browser, 'transcript', async (page) => {
      await signInTo(page, demo, `/tickets/${demoTicket.id}`);
      await page.getByTestId('tasks').getByRole('button', { name: task.title }).click();
      const timeline = page.getByTestId('transcript');
      await expect.poll(() => timeline.getByTestId('transcript-entry').count()).toBe(transcript.entries.length);
      const kinds = await timeline.getByTestId('transcript-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
      expect(kinds).toEqual(transcript.entries.map((e) => e.kind));
      const call = transcript.entries.find((e) => e.kind === 'tool_call' && e.tool);
      if (call) expect(await timeline.textContent()).toContain(`Tool call: ${call.tool}`);
      // Records open and close.
      const first = timeline.getByTestId('transcript-entry').first();
      await first.getByRole('button').click();
      expect(await first.getByTestId('transcript-text').textContent()).toBe(transcript.entries[0]?.text);
      await first.getByRole('button').click();
      expect(await first.getByTestId('transcript-text').count()).toBe(0);
      await timeline.scrollIntoViewIfNeeded();
      await snapshot(page, 'transcript');
      // Attempts fold away.
      await timeline.locator('summary').first().click();
      expect(await timeline.getByTestId('transcript-entry').first().isVisible()).toBe(false);
    });
  });

  it('renders the diff, whole and per task, with syntax colours loaded on demand', async () => {
    const fixture = {
      ticket_id: demoTicket.id,
      branch: 'foreman/DEMO-1-add-a-multiply-function-to-calc',
      base: 'the merge base with origin/main',
      diff: [
        'diff --git a/calc.py b/calc.py',
        '--- a/calc.py',
        '+++ b/calc.py',
        '@@ -4,3 +4,7 @@ def add(a, b):',
        '     return a + b',
        '+',
        '+def multiply(a, b):',
        '+    return a * b',
        'diff --git a/page.html b/page.html',
        'new file mode 100644',
        '--- /dev/null',
        '+++ b/page.html',
        '@@ -0,0 +1 @@',
        '+<script>window.__xss = 3</script>',
        '',
      ].join('\n'),
      truncated: true,
      total_bytes: 2_000_000,
      note: 'The diff is larger than 1 MB; it was cut.',
      tasks: [
        { task_id: 't1', sequence: 1, task: 'Add multiply', commit_sha: 'abc', diff: 'diff --git a/tests/test_multiply.py b/tests/test_multiply.py\n--- /dev/null\n+++ b/tests/test_multiply.py\n@@ -0,0 +1 @@\n+import unittest\n', truncated: false, total_bytes: 120 },
      ],
    };
    await withPage(browser, 'diff', async (page) => {
      const chunks: string[] = [];
      page.on('request', (r) => {
        if (/\/assets\/.*\.js$/.test(r.url())) chunks.push(new URL(r.url()).pathname);
      });
      await page.route(`**/api/tickets/${demoTicket.id}/diff`, (route) => route.fulfill({ json: fixture }));
      await signInTo(page, demo, '/tickets');
      await page.getByRole('heading', { name: 'Tickets' }).waitFor();
      // highlight.js is not part of the first load.
      expect(chunks.some((c) => c.includes('hljs'))).toBe(false);
      await page.getByTestId('ticket-row').filter({ hasText: 'Add a multiply function' }).first().click();
      const viewer = page.getByTestId('diff-viewer');
      await expect.poll(() => viewer.getAttribute('data-highlighted'), { timeout: 10_000 }).toBe('true');
      expect(chunks.some((c) => c.includes('hljs'))).toBe(true);
      expect(await viewer.getByTestId('diff-path').allTextContents()).toEqual(['calc.py', 'page.html']);
      expect(await viewer.locator('tr[data-kind="add"]').count()).toBe(4);
      expect(await viewer.locator('.hljs-keyword').first().textContent()).toBe('return');
      expect(await viewer.textContent()).toContain('Showing part of 1.9 MB');
      // Code that looks like markup is shown as text.
      expect(await viewer.textContent()).toContain('<script>window.__xss = 3</script>');
      expect(await viewer.locator('script').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      await viewer.scrollIntoViewIfNeeded();
      await snapshot(page, 'diff');
      // One task's change.
      await page.getByLabel('Diff to show').selectOption({ label: 'Task #1 Add multiply' });
      await expect.poll(() => viewer.getByTestId('diff-path').allTextContents()).toEqual(['tests/test_multiply.py']);
      // Files fold.
      await viewer.getByRole('button', { name: 'Hide tests/test_multiply.py' }).click();
      expect(await viewer.locator('tr[data-kind="add"]').count()).toBe(0);
    });
  });
});

describe('retrospectives', () => {
  it('shows the latest retrospective on the costs page', async () => {
    const [retro] = await demoApi<{ number: number; tickets: number; merged_prs: number }[]>('GET', '/api/retrospectives');
    if (!retro) throw new Error('the demo wrote no retrospective');
    await withPage(browser, 'retrospectives', async (page) => {
      await signInTo(page, demo, '/costs');
      const latest = page.getByTestId('retro-latest');
      await expect.poll(async () => (await latest.textContent().catch(() => '')) ?? '').toContain(`Retrospective #${retro.number}`);
      expect(await latest.textContent()).toContain(`${retro.tickets} tickets`);
      const gates = await page.getByTestId('retro-gates').locator('tbody tr td:first-child').allTextContents();
      expect(gates).toEqual(['TDD red', 'TDD green', 'Lint', 'Tests', 'Spec review', 'Quality review', 'Final review']);
      await page.getByTestId('retrospectives').scrollIntoViewIfNeeded();
      await snapshot(page, 'retrospectives');
    });
  });
});
