// Browser and API helpers for the end-to-end tests.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { inject } from 'vitest';
import type { Browser } from './browser';

export { type Browser, launch } from './browser';

export const ctx = () => inject('e2e');
const results = resolve(import.meta.dirname, '../test-results');

/** Runs `fn` with a new page; on failure saves a screenshot under web/test-results/. */
export async function withPage(browser: Browser, name: string, fn: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  try {
    await fn(page);
    if (problems.length) throw new Error(problems.join('\n'));
  } catch (e) {
    await mkdir(results, { recursive: true });
    const file = join(results, `${name.replace(/[^a-z0-9-]+/gi, '_')}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    throw e;
  } finally {
    await page.close();
  }
}

/** Saves a screenshot for people to look at (only with FOREMAN_E2E_SCREENSHOTS=1). */
export async function snapshot(page: Page, name: string): Promise<void> {
  if (!process.env.FOREMAN_E2E_SCREENSHOTS) return;
  const dir = join(results, 'screens');
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}

/** Opens the dashboard and signs in with `token` through the form. */
export async function signIn(page: Page, token = ctx().token, path = '/tickets'): Promise<void> {
  await page.goto(ctx().ui + path);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** Calls the API with the admin token. */
export async function apiCall<T = unknown>(method: string, path: string, body?: unknown, token = ctx().token): Promise<T> {
  const r = await fetch(ctx().api + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface CreatedTicket {
  id: string;
  external_id: string;
  title: string;
}

export const createTicket = (title: string, extra: Record<string, unknown> = {}) =>
  apiCall<CreatedTicket>('POST', '/api/tickets', { title, ...extra });
