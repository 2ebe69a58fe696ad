import { describe, expect, it } from 'vitest';
import { Pager, type Page } from './pager.svelte';

type Item = { id: string };
const items = (...ids: number[]) => ids.map((i) => ({ id: String(i) }));

/** A server over `total` items in pages of `size`, cursor = next offset. */
function server(total: number, size: number) {
  const calls: (string | null)[] = [];
  const fetch = async (cursor: string | null): Promise<Page<Item>> => {
    calls.push(cursor);
    const from = cursor ? Number(cursor) : 0;
    const to = Math.min(total, from + size);
    return { items: items(...Array.from({ length: to - from }, (_, i) => from + i)), next: to < total ? String(to) : null };
  };
  return { fetch, calls };
}

describe('Pager', () => {
  it('follows cursors until the last page', async () => {
    const s = server(25, 10);
    const p = new Pager<Item>(s.fetch);
    await p.reset();
    expect(p.items).toHaveLength(10);
    expect(p.done).toBe(false);
    await p.loadMore();
    await p.loadMore();
    expect(p.items.map((i) => i.id)).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    expect(p.done).toBe(true);
    expect(s.calls).toEqual([null, '10', '20']);
    await p.loadMore();
    expect(s.calls).toHaveLength(3);
    expect(p.pages).toBe(3);
  });

  it('loads 10,000 items in pages without duplicates', async () => {
    const s = server(10_000, 500);
    const p = new Pager<Item>(s.fetch);
    await p.reset();
    while (!p.done) await p.loadMore();
    expect(p.items).toHaveLength(10_000);
    expect(new Set(p.items.map((i) => i.id)).size).toBe(10_000);
  });

  it('skips items already shown when pages overlap', async () => {
    const pages: Page<Item>[] = [
      { items: items(1, 2, 3), next: 'a' },
      { items: items(3, 4), next: null },
    ];
    const p = new Pager<Item>(async () => pages.shift() as Page<Item>);
    await p.reset();
    await p.loadMore();
    expect(p.items.map((i) => i.id)).toEqual(['1', '2', '3', '4']);
  });

  it('ignores a slow response for a query that was replaced', async () => {
    let release: (p: Page<Item>) => void = () => {};
    const slow = () => new Promise<Page<Item>>((r) => (release = r));
    const p = new Pager<Item>(slow);
    const first = p.reset();
    const second = p.reset(async () => ({ items: items(7), next: null }));
    await second;
    release({ items: items(1, 2), next: null });
    await first;
    expect(p.items.map((i) => i.id)).toEqual(['7']);
    expect(p.loading).toBe(false);
  });

  it('aborts the replaced request', async () => {
    let signal: AbortSignal | null = null;
    const p = new Pager<Item>((_, s) => {
      signal = s;
      return new Promise(() => {});
    });
    void p.reset();
    void p.reset(async () => ({ items: [], next: null }));
    expect((signal as AbortSignal | null)?.aborted).toBe(true);
  });

  it('keeps the error and lets the user try again', async () => {
    let fail = true;
    const p = new Pager<Item>(async () => {
      if (fail) throw new Error('server unavailable');
      return { items: items(1), next: null };
    });
    await p.reset();
    expect(p.error).toBe('server unavailable');
    expect(p.loading).toBe(false);
    fail = false;
    await p.loadMore();
    expect(p.error).toBeNull();
    expect(p.items).toHaveLength(1);
  });

  it('updates and removes items in place', async () => {
    const p = new Pager<Item & { v?: number }>(async () => ({ items: items(1, 2), next: null }));
    await p.reset();
    p.update('2', (it) => ({ ...it, v: 5 }));
    expect(p.items[1]).toEqual({ id: '2', v: 5 });
    p.remove('1');
    expect(p.items.map((i) => i.id)).toEqual(['2']);
    p.remove('nope');
    expect(p.items).toHaveLength(1);
  });
});
