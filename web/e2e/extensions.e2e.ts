// Validation rules and skills on the settings page, against the suite's real foreman-server in
// Debian's Chromium: a reviewer's proposed rule accepted by a click (and the API then reports it
// accepted), a write refused to a read-only token (the server's message in a toast), a file
// tried against the accepted rules (violations with line numbers), and the built-in skills in
// the catalogue. A test whose route this server does not serve is reported as skipped.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, apiCall, ctx, launch, signIn, snapshot, withPage } from './harness';
import { startStack } from './stack';

let browser: Browser;
const run = Date.now().toString(36);
const project = 'default';
const enforced = `no-todo-${run}`;
const proposed = `no-dbg-${run}`;

interface RuleView {
  id: string;
  status: string;
}

/** Whether the server answers `path` (a route that is not there is a 404 or 405). */
async function served(path: string): Promise<boolean> {
  const r = await fetch(ctx().api + path, { headers: { authorization: `Bearer ${ctx().token}` } });
  return r.status !== 404 && r.status !== 405;
}

let rulesServed = false;
let skillsServed = false;

beforeAll(async () => {
  browser = await launch();
  rulesServed = await served(`/api/rules/${project}`);
  skillsServed = await served('/api/skills');
  if (rulesServed) {
    // One enforced rule and one a reviewer proposed (waiting for a person).
    await apiCall('PUT', `/api/rules/${project}`, {
      rules: [
        { id: enforced, kind: 'regex', pattern: 'TODO', severity: 'error', applies_to: ['**/*.rs'], message: 'no TODOs in Rust code' },
        {
          id: proposed,
          kind: 'regex',
          pattern: 'dbg!\\(',
          severity: 'warning',
          applies_to: ['**/*.rs'],
          status: 'proposed',
          source: 'reviewer',
          rationale: 'debug output left in a handler',
        },
      ],
    });
  }
});

afterAll(async () => {
  await browser?.close();
});

async function openSettings(page: Page, token?: string) {
  await signIn(page, token);
  await page.getByRole('button', { name: 'Settings' }).click();
  return page.getByRole('dialog', { name: 'Settings' });
}

const ruleItem = (page: Page, id: string) => page.locator(`[data-testid="rules-project"][data-project="${project}"] [data-testid="rule"][data-rule-id="${id}"]`);

async function ruleStatus(id: string): Promise<string | undefined> {
  const body = await apiCall<{ rules: RuleView[] }>('GET', `/api/rules/${project}`);
  return body.rules.find((r) => r.id === id)?.status;
}

describe('validation rules', () => {
  it('refuses to accept a rule with a read-only token, with the server message', async (t) => {
    if (!rulesServed) t.skip();
    const created = await apiCall<{ token: string }>('POST', '/api/tokens', { name: `reader ${run}`, scopes: ['read'] });
    await withPage(browser, 'rules-not-admin', async (page) => {
      await openSettings(page, created.token);
      const item = ruleItem(page, proposed);
      await item.getByRole('button', { name: `Accept rule ${proposed}` }).click();
      await expect.poll(async () => (await page.getByRole('alert').allTextContents()).join(' ')).toContain(`Could not accept rule ${proposed}`);
      expect((await page.getByRole('alert').allTextContents()).join(' ')).toContain('lacks the write scope');
      expect(await ruleStatus(proposed)).toBe('proposed');
    });
  });

  it('shows the proposal with its rationale and accepts it by a click', async (t) => {
    if (!rulesServed) t.skip();
    expect(await ruleStatus(proposed)).toBe('proposed');
    await withPage(browser, 'rules-accept', async (page) => {
      await openSettings(page);
      const item = ruleItem(page, proposed);
      await expect.poll(() => item.getAttribute('data-status')).toBe('proposed');
      expect(await item.textContent()).toContain('debug output left in a handler');
      await expect.poll(() => ruleItem(page, enforced).getAttribute('data-status')).toBe('accepted');
      await snapshot(page, 'rules-proposed');
      await item.getByRole('button', { name: `Accept rule ${proposed}` }).click();
      // The list reloads: the rule moves to the accepted group, and the API agrees.
      await expect.poll(() => item.getAttribute('data-status')).toBe('accepted');
      await expect.poll(() => ruleStatus(proposed)).toBe('accepted');
      expect(await item.getByRole('button', { name: `Accept rule ${proposed}` }).count()).toBe(0);
    });
  });

  it('checks a file against the accepted rules and shows violations with line numbers', async (t) => {
    if (!rulesServed) t.skip();
    await withPage(browser, 'rules-try', async (page) => {
      const drawer = await openSettings(page);
      const box = drawer.locator(`[data-testid="rules-project"][data-project="${project}"]`);
      await box.getByText('Try a file').click();
      await box.getByLabel('File name').fill('src/lib.rs');
      await box.getByLabel('Content').fill('fn main() {\n    // TODO: later\n}\n');
      await box.getByRole('button', { name: 'Check against the accepted rules' }).click();
      await expect.poll(async () => (await box.getByTestId('try-result').textContent()) ?? '').toContain('src/lib.rs:2:');
      expect(await box.getByTestId('try-result').textContent()).toContain(enforced);
    });
  });
});

describe('rules export and import', () => {
  it('downloads the rules as a document and imports an edited one from a file', async (t) => {
    if (!rulesServed) t.skip();
    const added = `no-fixme-${run}`;
    await withPage(browser, 'rules-export-import', async (page) => {
      const drawer = await openSettings(page);
      const box = drawer.locator(`[data-testid="rules-project"][data-project="${project}"]`);
      await expect.poll(() => ruleItem(page, enforced).count()).toBe(1);
      const [file] = await Promise.all([page.waitForEvent('download'), box.getByRole('button', { name: 'Export' }).click()]);
      expect(file.suggestedFilename()).toBe(`foreman-rules-${project}.json`);
      const doc = JSON.parse(await readFile((await file.path())!, 'utf8')) as { format: string; rules: { id: string }[] };
      expect(doc.format).toBe('foreman-rules/1');
      expect(doc.rules.map((r) => r.id)).toContain(enforced);

      // The same document with one more rule, imported through the file picker (a merge).
      const edited = { ...doc, rules: [...doc.rules, { id: added, kind: 'regex', pattern: 'FIXME', severity: 'warning' }] };
      await box.getByLabel(`Import rules of ${project}`).setInputFiles({ name: 'rules.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(edited)) });
      await expect.poll(() => ruleItem(page, added).getAttribute('data-status')).toBe('accepted');
      expect(await ruleStatus(added)).toBe('accepted');
      expect(await ruleStatus(enforced)).toBe('accepted');

      // A file that is not a rule document is refused with a message, and nothing changes.
      await box.getByLabel(`Import rules of ${project}`).setInputFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"notes": []}') });
      await expect.poll(async () => (await page.getByRole('alert').allTextContents()).join(' ')).toContain('Could not import notes.json: the file has no "rules" list');
    });
  });
});

describe('skills', () => {
  it('lists the built-in skills', async (t) => {
    if (!skillsServed) t.skip();
    await withPage(browser, 'skills', async (page) => {
      const drawer = await openSettings(page);
      const list = drawer.getByTestId('skills');
      for (const name of ['changelog', 'dependency-install', 'security-scan']) {
        await expect.poll(() => list.locator(`[data-testid="skill"][data-skill="${name}"]`).count()).toBeGreaterThan(0);
      }
      const changelog = list.locator('[data-testid="skill"][data-skill="changelog"]').first();
      expect(await changelog.getAttribute('data-valid')).toBe('true');
      expect(await changelog.textContent()).toContain('pre_pr');
      await snapshot(page, 'skills');
    });
  });
});

describe('hook runs in the ticket timeline', () => {
  it('shows a failing non-blocking post_task hook as a warning, with its skill, step and output', async () => {
    // A demo server (sample repository, scripted provider) whose post_task hook runs the
    // built-in security-scan skill with a scanner that fails; the hook does not block.
    const dir = await mkdtemp(join(tmpdir(), 'foreman-e2e-hooks-'));
    const config = join(dir, 'foreman.toml');
    await writeFile(
      config,
      ['[[pipeline.hooks]]', 'point = "post_task"', 'skills = ["security-scan"]', `inputs = { scanner = "sh -c 'echo weak hash in src/lib.rs; exit 3'" }`, 'blocking = false', ''].join('\n'),
    );
    const demo = await startStack({ build: false, demo: true, env: { FOREMAN_CONFIG: config } });
    try {
      const get = async <T>(path: string): Promise<T> => {
        const r = await fetch(demo.api + path, { headers: { authorization: `Bearer ${demo.token}` } });
        if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
        return (await r.json()) as T;
      };
      // The ticket survives the failing hook: it still merges.
      let ticket: { id: string; status: string } | undefined;
      await expect
        .poll(
          async () => {
            [ticket] = await get<{ id: string; status: string }[]>('/api/tickets');
            return ticket?.status;
          },
          { timeout: 60_000, interval: 500 },
        )
        .toBe('merged');
      const events = await get<{ event_type: string; details: Record<string, unknown> }[]>(`/api/tickets/${ticket!.id}/events`);
      const failed = events.find((e) => e.event_type === 'hook_failed');
      expect(failed?.details).toMatchObject({ point: 'post_task', skill: 'security-scan', blocking: false });

      await withPage(browser, 'hook-timeline', async (page) => {
        await page.goto(demo.ui + `/tickets/${ticket!.id}`);
        await page.getByLabel('API token').fill(demo.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        const log = page.getByTestId('ticket-events');
        const hook = log.locator('li[data-event-type="hook_failed"]').first();
        await hook.waitFor();
        const text = (await hook.textContent()) ?? '';
        expect(text).toContain('hook warning');
        expect(text).toContain('post_task hook failed at security-scan › scan');
        expect(text).toContain('non-blocking');
        expect(await hook.getByTestId('timeline-details').getAttribute('data-warning')).toBe('true');
        const step = log.locator('li[data-event-type="skill_step_completed"]').first();
        expect((await step.textContent()) ?? '').toContain('security-scan › scan (run_command) failed');
        // The output tail is collapsed until asked for.
        const output = step.locator('details');
        expect(await output.locator('pre').isVisible()).toBe(false);
        await output.locator('summary').click();
        await expect.poll(async () => (await output.locator('pre').textContent()) ?? '').toContain('weak hash in src/lib.rs');
        expect(await log.locator('li[data-event-type="hook_started"]').count()).toBeGreaterThan(0);
        await snapshot(page, 'hook-timeline');
      });
    } finally {
      await demo.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
