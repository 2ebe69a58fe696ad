import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveEvent } from './api/types';

// The API as a fake: each GET answers with the next queued unacknowledged count, resolved when
// the test says so.
const calls: { method: string; path: string; init?: unknown }[] = [];
let pending: ((count: number) => void)[] = [];
vi.mock('./api/client', () => ({
  api: {
    GET: (path: string, init?: unknown) => {
      calls.push({ method: 'GET', path, init });
      return new Promise((resolve) => {
        pending.push((count) => resolve({ data: { items: [], next_cursor: null, unacknowledged: count }, response: { ok: true } }));
      });
    },
    POST: async (path: string, init?: unknown) => {
      calls.push({ method: 'POST', path, init });
      return { data: { success: true, message: 'ok', acknowledged: 3 }, response: { ok: true } };
    },
  },
  unwrap: async (p: Promise<{ data: unknown }>) => (await p).data,
}));

const { notifications } = await import('./notifications.svelte');

/** Answers the oldest waiting GET once it has been made. */
async function answer(count: number) {
  await vi.waitFor(() => expect(pending.length).toBeGreaterThan(0));
  (pending.shift() as (n: number) => void)(count);
}

beforeEach(() => {
  calls.length = 0;
  pending = [];
  notifications.reset();
});

describe('notifications', () => {
  it('reads the unacknowledged count with a one-item query', async () => {
    const done = notifications.refresh();
    await answer(4);
    await done;
    expect(notifications.unacknowledged).toBe(4);
    expect(calls[0]).toEqual({ method: 'GET', path: '/api/notifications', init: { params: { query: { limit: 1, acknowledged: false } } } });
  });

  it('runs refreshes one after another, so the newest answer wins', async () => {
    const first = notifications.refresh();
    const second = notifications.refresh();
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(calls).toHaveLength(1);
    await answer(1);
    await first;
    expect(notifications.unacknowledged).toBe(1);
    // The second request is sent only after the first answered.
    await vi.waitFor(() => expect(calls.filter((c) => c.method === 'GET')).toHaveLength(2));
    await answer(2);
    await second;
    expect(notifications.unacknowledged).toBe(2);
  });

  it('acknowledges one or all, then reloads the count and bumps the version', async () => {
    const v = notifications.version;
    const one = notifications.acknowledge('n/1');
    await answer(2);
    await one;
    expect(calls[0]).toEqual({ method: 'POST', path: '/api/notifications/{id}/acknowledge', init: { params: { path: { id: 'n/1' } } } });
    expect(notifications.unacknowledged).toBe(2);
    const all = notifications.acknowledgeAll();
    await answer(0);
    expect(await all).toBe(3);
    expect(notifications.unacknowledged).toBe(0);
    expect(notifications.version).toBe(v + 2);
  });

  it('is concerned only by notification_created events', () => {
    const ev = (event_type: string) => ({ event_type }) as LiveEvent;
    expect(notifications.concerns([ev('ticket_created'), ev('notification_created')])).toBe(true);
    expect(notifications.concerns([ev('cost_alert')])).toBe(false);
    expect(notifications.concerns([])).toBe(false);
  });
});
