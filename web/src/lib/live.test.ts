import { describe, expect, it } from 'vitest';
import { LiveConnection, liveUrl, type SocketLike, type Timers } from './live';

interface Ev {
  seq: number;
  event_type: string;
}

/** A socket the test drives by hand. */
class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closed = false;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  open() {
    this.onopen?.({});
  }
  send(...seqs: number[]) {
    for (const seq of seqs) this.onmessage?.({ data: JSON.stringify({ seq, event_type: 'task_done' }) });
  }
  raw(data: string) {
    this.onmessage?.({ data });
  }
  drop() {
    this.closed = true;
    this.onclose?.({ code: 1006, reason: '' });
  }
  close() {
    this.closed = true;
  }
}

/** Timers that run only when the test says so. */
class ManualTimers implements Timers {
  queue: { fn: () => void; ms: number; id: number }[] = [];
  #id = 0;
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.#id;
    this.queue.push({ fn, ms, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.queue = this.queue.filter((t) => t.id !== h);
  }
  runNext(): number {
    const t = this.queue.shift();
    if (!t) throw new Error('no timer pending');
    t.fn();
    return t.ms;
  }
}

function setup(opts: { seed?: Ev[]; capacity?: number; authRejected?: () => Promise<boolean> } = {}) {
  const sockets: FakeSocket[] = [];
  const timers = new ManualTimers();
  const received: number[] = [];
  const seededSeqs: number[] = [];
  const states: string[] = [];
  const dropped: number[] = [];
  const conn = new LiveConnection<Ev>({
    url: (since) => liveUrl({ protocol: 'http:', host: 'localhost:8080' }, since),
    token: 'fm_secret',
    socket: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s;
    },
    seed: opts.seed ? async () => opts.seed as Ev[] : undefined,
    capacity: opts.capacity,
    onEvents: (evs, seeded) => {
      received.push(...evs.map((e) => e.seq));
      if (seeded) seededSeqs.push(...evs.map((e) => e.seq));
    },
    onState: (s) => states.push(s),
    onDropped: (n) => dropped.push(n),
    authRejected: opts.authRejected,
    timers,
    random: () => 1,
    minDelayMs: 100,
    maxDelayMs: 1000,
  });
  return { conn, sockets, timers, received, seededSeqs, states, dropped };
}

const last = <T>(xs: T[]): T => {
  const x = xs[xs.length - 1];
  if (x === undefined) throw new Error('empty');
  return x;
};

describe('liveUrl', () => {
  it('uses ws or wss by page protocol and adds since_seq', () => {
    expect(liveUrl({ protocol: 'http:', host: 'h:1' }, null)).toBe('ws://h:1/ws/events');
    expect(liveUrl({ protocol: 'https:', host: 'h' }, 42)).toBe('wss://h/ws/events?since_seq=42');
    expect(liveUrl({ protocol: 'http:', host: 'h' }, 0)).toBe('ws://h/ws/events?since_seq=0');
  });
});

describe('LiveConnection', () => {
  it('authenticates with the bearer subprotocol and resumes after the seed', async () => {
    const t = setup({ seed: [{ seq: 5, event_type: 'a' }, { seq: 4, event_type: 'a' }] });
    await t.conn.start();
    expect(t.received).toEqual([4, 5]);
    const s = last(t.sockets);
    expect(s.protocols).toEqual(['bearer.fm_secret']);
    expect(s.url).toBe('ws://localhost:8080/ws/events?since_seq=5');
    s.open();
    expect(t.conn.state).toBe('open');
    // History from the seed is marked as such; live events are not.
    s.send(6);
    expect(t.seededSeqs).toEqual([4, 5]);
    expect(t.received).toEqual([4, 5, 6]);
  });

  it('replays from seq 0 when the log was empty at seed time', async () => {
    const t = setup({ seed: [] });
    await t.conn.start();
    expect(last(t.sockets).url).toBe('ws://localhost:8080/ws/events?since_seq=0');
  });

  it('reconnects after a drop from the last seen seq with no gap or duplicate', async () => {
    const t = setup({ seed: [{ seq: 1, event_type: 'a' }] });
    await t.conn.start();
    const first = last(t.sockets);
    first.open();
    first.send(2, 3);
    first.drop();
    expect(t.conn.state).toBe('reconnecting');
    t.timers.runNext();
    const second = last(t.sockets);
    expect(t.sockets).toHaveLength(2);
    expect(second.url).toBe('ws://localhost:8080/ws/events?since_seq=3');
    second.open();
    // The server replays from since_seq; an overlapping replay must not duplicate.
    second.send(3, 4, 5);
    second.send(5, 6);
    expect(t.received).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.conn.window.items.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('backs off exponentially while the server is down and resets once connected', async () => {
    const t = setup();
    await t.conn.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      last(t.sockets).drop();
      delays.push(t.timers.runNext());
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    last(t.sockets).open();
    last(t.sockets).drop();
    expect(t.timers.runNext()).toBe(100);
  });

  it('stops when the token is rejected', async () => {
    let asked = 0;
    const t = setup({
      authRejected: async () => {
        asked++;
        return true;
      },
    });
    await t.conn.start();
    last(t.sockets).drop();
    t.timers.runNext();
    last(t.sockets).drop();
    await Promise.resolve();
    await Promise.resolve();
    expect(asked).toBe(1);
    expect(t.conn.state).toBe('stopped');
    expect(t.timers.queue).toHaveLength(0);
  });

  it('keeps reconnecting when the token is still fine', async () => {
    const t = setup({ authRejected: async () => false });
    await t.conn.start();
    last(t.sockets).drop();
    t.timers.runNext();
    last(t.sockets).drop();
    await Promise.resolve();
    await Promise.resolve();
    expect(t.timers.queue).toHaveLength(1);
    t.timers.runNext();
    expect(t.sockets).toHaveLength(3);
  });

  it('reports lag notices and ignores junk messages', async () => {
    const t = setup();
    await t.conn.start();
    const s = last(t.sockets);
    s.open();
    s.raw('{"event_type":"events_dropped","count":7}');
    s.raw('not json');
    s.raw('{"no_seq":true}');
    s.raw('42');
    s.send(1);
    expect(t.dropped).toEqual([7]);
    expect(t.received).toEqual([1]);
  });

  it('stop closes the socket and cancels pending reconnects', async () => {
    const t = setup();
    await t.conn.start();
    last(t.sockets).drop();
    expect(t.timers.queue).toHaveLength(1);
    t.conn.stop();
    expect(t.timers.queue).toHaveLength(0);
    expect(t.conn.state).toBe('stopped');
    const t2 = setup();
    await t2.conn.start();
    const s = last(t2.sockets);
    s.open();
    t2.conn.stop();
    expect(s.closed).toBe(true);
    s.send(9);
    expect(t2.received).toEqual([]);
  });

  it('keeps memory bounded over a long stream', async () => {
    const t = setup({ capacity: 100 });
    await t.conn.start();
    const s = last(t.sockets);
    s.open();
    for (let i = 1; i <= 10_000; i++) s.send(i);
    expect(t.conn.window.size).toBe(100);
    expect(t.conn.window.lastSeq).toBe(10_000);
    expect(t.received).toHaveLength(10_000);
  });
});
