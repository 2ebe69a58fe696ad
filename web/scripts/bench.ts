// Dashboard benchmarks against a real foreman-server in Debian's Chromium:
//   1. JS + CSS the first page load transfers, gzipped;
//   2. time from navigation to the first ticket row on localhost, with BENCH_TICKETS tickets;
//   3. frame times while scrolling the full list (virtual scrolling);
//   4. JS heap on the live feed while BENCH_FEED_MINUTES minutes of events arrive at
//      BENCH_EVENTS_PER_SECOND.
// Run: BENCH_WRITE=1 npm run bench   (BENCH_WRITE replaces the `## Dashboard` section of
// docs/benchmarks.md with the results).
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { launch } from '../e2e/browser';
import { startStack, type Stack } from '../e2e/stack';

const TICKETS = Number(process.env.BENCH_TICKETS ?? 10_000);
const FEED_MINUTES = Number(process.env.BENCH_FEED_MINUTES ?? 10);
const RATE = Number(process.env.BENCH_EVENTS_PER_SECOND ?? 50);
const web = resolve(import.meta.dirname, '..');
const dist = join(web, 'dist');
const lines: string[] = [];
const say = (s = '') => {
  lines.push(s);
  console.log(s);
};

async function size(path: string): Promise<number> {
  return (await stat(path)).size;
}

async function bundle() {
  const html = await readFile(join(dist, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1] as string);
  let raw = 0;
  let gz = 0;
  for (const r of refs) {
    raw += await size(join(dist, r));
    gz += await size(join(dist, `${r}.gz`)).catch(() => size(join(dist, r)));
  }
  return { files: refs.length, raw, gz };
}

async function seed(stack: Stack, n: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await fetch(`${stack.api}/api/tickets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `Benchmark ticket ${i} ${i % 7 === 0 ? 'billing' : 'search'}`, priority: i % 5 }),
      });
      if (!r.ok) throw new Error(`seeding failed: ${r.status} ${await r.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return performance.now() - start;
}

async function signedInPage(stack: Stack, page: Page) {
  await page.addInitScript((token) => {
    sessionStorage.setItem('foreman.token', token);
    const w = window as unknown as { __firstRow?: number };
    new MutationObserver((_, obs) => {
      if (document.querySelector('[data-testid="ticket-row"]')) {
        w.__firstRow = performance.now();
        obs.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  }, stack.token);
}

async function firstList(stack: Stack, page: Page): Promise<number> {
  await page.goto(`${stack.ui}/tickets`);
  await page.waitForFunction(() => (window as unknown as { __firstRow?: number }).__firstRow !== undefined, null, { timeout: 30_000 });
  return page.evaluate(() => (window as unknown as { __firstRow: number }).__firstRow);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;

async function main() {
  const stack = await startStack();
  const browser = await launch();
  try {
    say('## Dashboard');
    say();
    say(
      `Measured by \`npm --prefix web run bench\` (web/scripts/bench.ts) on ${new Date().toISOString().slice(0, 10)}: a real foreman-server (debug build, SQLite in a temporary directory) on localhost, Debian's Chromium headless with \`--disable-gpu\`, ${stack.embedded ? 'the dashboard served by the server itself' : 'the dashboard served by `vite preview` forwarding /api and /ws to the server'}, on the 2-core development machine.`,
    );
    say();

    const b = await bundle();
    const page0 = await browser.context.newPage();
    await signedInPage(stack, page0);
    await page0.goto(`${stack.ui}/tickets`);
    await page0.waitForLoadState('networkidle');
    const transferred = await page0.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .filter((e) => /\/assets\/.*\.(js|css)$/.test(e.name))
        .reduce((s, e) => s + (e as PerformanceResourceTiming).transferSize, 0),
    );
    await page0.close();
    say('| measure | target | result |');
    say('|---|---|---|');
    say(`| initial JS + CSS, gzipped (${b.files} files; ${kb(b.raw)} uncompressed) | ≤ 150 KB | **${kb(b.gz)}**${stack.embedded ? ` (${kb(transferred)} on the wire with headers)` : ''} |`);

    const seedMs = await seed(stack, TICKETS);
    const page = await browser.context.newPage();
    await signedInPage(stack, page);
    const cold = await firstList(stack, page);
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) warm.push(await firstList(stack, page));
    say(`| time to first ticket row, ${TICKETS.toLocaleString('en-US')} tickets in the store (navigation start → first row in the DOM) | ≤ 500 ms | **${Math.round(cold)} ms** first load, ${Math.round(median(warm))} ms median of 5 reloads |`);

    // Load every page of the list, then scroll through it.
    const loadStart = performance.now();
    await page.evaluate(async () => {
      const list = document.querySelector('[role="list"][aria-label="Tickets"]') as HTMLElement;
      for (let i = 0; i < 400; i++) {
        list.scrollTop = list.scrollHeight;
        await new Promise((r) => setTimeout(r, 50));
        const count = document.querySelector('[data-testid="ticket-count"]')?.textContent ?? '';
        if (!count.includes('+')) break;
      }
    });
    const loadAll = performance.now() - loadStart;
    const count = (await page.getByTestId('ticket-count').textContent())?.trim();
    const frames = await page.evaluate(async () => {
      const list = document.querySelector('[role="list"][aria-label="Tickets"]') as HTMLElement;
      list.scrollTop = 0;
      const deltas: number[] = [];
      let last = performance.now();
      for (let i = 0; i < 300; i++) {
        list.scrollTop += 400;
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        deltas.push(now - last);
        last = now;
      }
      return { deltas, rows: document.querySelectorAll('[data-testid="ticket-row"]').length };
    });
    say(`| scrolling the whole list (${count}) 400 px per frame for 300 frames | smooth | median frame ${median(frames.deltas).toFixed(1)} ms, p95 ${pct(frames.deltas, 0.95).toFixed(1)} ms; ${frames.rows} rows in the DOM |`);
    say();
    say(`Seeding ${TICKETS.toLocaleString('en-US')} tickets through \`POST /api/tickets\` took ${(seedMs / 1000).toFixed(1)} s; loading every page of the list by scrolling (${TICKETS > 100 ? 'cursor pages of 500' : 'one page'}) took ${(loadAll / 1000).toFixed(1)} s.`);
    await page.close();

    // Live feed under load.
    const feed = await browser.context.newPage();
    await signedInPage(stack, feed);
    await feed.goto(`${stack.ui}/feed`);
    await feed.getByTestId('live-state').and(feed.locator('[data-state="open"]')).waitFor();
    const cdp = await browser.context.newCDPSession(feed);
    const heap = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
      const nodes = await feed.evaluate(() => document.getElementsByTagName('*').length);
      return { usedSize, nodes };
    };
    const samples: { minute: number; usedSize: number; nodes: number; events: number }[] = [];
    let sent = 0;
    let failed = 0;
    let paused = false;
    const interval = 1000 / RATE;
    const startAt = performance.now();
    const end = startAt + FEED_MINUTES * 60_000;
    const first = await heap();
    samples.push({ minute: 0, ...first, events: 0 });
    let nextSample = startAt + 60_000;
    let nextSend = startAt;
    while (performance.now() < end) {
      const now = performance.now();
      if (now >= nextSend) {
        paused = !paused;
        fetch(`${stack.api}/api/daemon/${paused ? 'pause' : 'resume'}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.token}` },
        }).then(
          (r) => (r.ok ? sent++ : failed++),
          () => failed++,
        );
        nextSend += interval;
      }
      if (now >= nextSample) {
        samples.push({ minute: Math.round((now - startAt) / 60_000), ...(await heap()), events: sent });
        nextSample += 60_000;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(nextSend, nextSample) - performance.now())));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const last = await heap();
    samples.push({ minute: FEED_MINUTES, ...last, events: sent });
    const received = await feed.evaluate(() => document.body.textContent ?? '');
    const seqText = /last seq (\d+)/.exec(received)?.[1];
    const newest = await fetch(`${stack.api}/api/events?limit=1`, { headers: { authorization: `Bearer ${stack.token}` } })
      .then((r) => r.json() as Promise<{ seq: number }[]>)
      .then((evs) => evs[0]?.seq);
    say();
    say(
      `Live feed: ${FEED_MINUTES} min at ${RATE} events/s (${sent.toLocaleString('en-US')} events, ${failed} failed requests; each \`POST /api/daemon/pause|resume\` emits one event), JS heap after a forced GC, sampled each minute on the feed page. The feed keeps the newest 2,000 events and renders only the rows in view. Last seq shown by the page: ${seqText ?? '—'}; newest seq in the log: ${newest ?? '—'}.`,
    );
    say();
    say('| minute | events sent | JS heap used | DOM elements |');
    say('|---:|---:|---:|---:|');
    for (const s of samples) say(`| ${s.minute} | ${s.events.toLocaleString('en-US')} | ${mb(s.usedSize)} | ${s.nodes} |`);
    const fill = samples.find((s) => s.events >= 2000) ?? samples[1];
    if (fill && samples.length > 2) {
      say();
      say(
        `Heap once the 2,000-event window was full: ${mb(fill.usedSize)}; at the end: ${mb(last.usedSize)} (${last.usedSize > fill.usedSize ? '+' : ''}${(((last.usedSize - fill.usedSize) / fill.usedSize) * 100).toFixed(1)}%). The target is one hour of this load; this run covers ${FEED_MINUTES} minutes (set BENCH_FEED_MINUTES=60 for the full hour).`,
      );
    }
    await feed.close();
  } finally {
    await browser.close();
    await stack.stop();
  }

  if (process.argv.includes('--write') || process.env.BENCH_WRITE) {
    const file = resolve(web, '../docs/benchmarks.md');
    const current = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
    const section = `${lines.join('\n')}\n`;
    const start = current.indexOf('## Dashboard');
    let next: string;
    if (start < 0) {
      next = `${current.trimEnd()}\n\n${section}`;
    } else {
      const after = current.indexOf('\n## ', start + 1);
      next = current.slice(0, start) + section + (after < 0 ? '' : `\n${current.slice(after + 1)}`);
    }
    await writeFile(file, next);
    console.log(`wrote the Dashboard section of ${file}`);
  }
}

await main();
