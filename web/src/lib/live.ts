// The live event connection: one WebSocket to `/ws/events`, authenticated with the
// `bearer.<token>` subprotocol, that reconnects with backoff and resumes after the last `seq`
// it saw, so the window it feeds has no gaps and no duplicates across reconnects.
import { EventWindow, type Sequenced } from './feed';

/** The part of `WebSocket` the connection uses (a fake in tests). */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

export type LiveState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LiveOptions<T extends Sequenced> {
  /** The WebSocket URL, resuming after `sinceSeq` when it is not null. */
  url: (sinceSeq: number | null) => string;
  /** The bearer token (sent as the `bearer.<token>` subprotocol). */
  token: string;
  /** Opens a socket; defaults to the browser's `WebSocket`. */
  socket?: SocketFactory;
  /** The newest events before going live (e.g. `GET /api/events`); sets where replay starts. */
  seed?: () => Promise<T[]>;
  /** Events kept in memory. */
  capacity?: number;
  /**
   * Called with events that were new, in `seq` order; `seeded` is true for the history loaded
   * before going live (events that happened before this client connected).
   */
  onEvents?: (events: T[], seeded: boolean) => void;
  onState?: (state: LiveState) => void;
  /** The server reported that this client lagged and `count` events will be replayed. */
  onDropped?: (count: number) => void;
  /**
   * Asked after the socket closed twice without opening: resolve `true` when the token is no
   * longer accepted, which stops the connection for good.
   */
  authRejected?: () => Promise<boolean>;
  /** Parses a message; defaults to JSON with a numeric `seq`. */
  parse?: (data: string) => T | { dropped: number } | null;
  timers?: Timers;
  random?: () => number;
  minDelayMs?: number;
  maxDelayMs?: number;
}

const browserSocket: SocketFactory = (url, protocols) =>
  new WebSocket(url, protocols) as unknown as SocketLike;

function defaultParse<T extends Sequenced>(data: string): T | { dropped: number } | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.event_type === 'events_dropped') return { dropped: Number(o.count) || 0 };
  return typeof o.seq === 'number' ? (o as unknown as T) : null;
}

/** `ws://host/ws/events?since_seq=N` from the page's own origin. */
export function liveUrl(location: { protocol: string; host: string }, sinceSeq: number | null): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = sinceSeq === null ? '' : `?since_seq=${sinceSeq}`;
  return `${proto}//${location.host}/ws/events${q}`;
}

export class LiveConnection<T extends Sequenced> {
  readonly window: EventWindow<T>;
  #o: LiveOptions<T>;
  #timers: Timers;
  #socket: SocketLike | null = null;
  #timer: unknown = null;
  #attempt = 0;
  #closedBeforeOpen = 0;
  #state: LiveState = 'idle';
  #generation = 0;
  #connects = 0;
  #seededEmpty = false;

  constructor(options: LiveOptions<T>) {
    this.#o = options;
    this.#timers = options.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.window = new EventWindow<T>(options.capacity ?? 1000);
  }

  get state(): LiveState {
    return this.#state;
  }

  /** Sockets opened so far (the first connection and every reconnect). */
  get connects(): number {
    return this.#connects;
  }

  /** Seeds from the API, then connects. Resolves once the first socket is opening. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') return;
    const generation = this.#generation;
    this.#setState('connecting');
    if (this.#o.seed) {
      try {
        const seeded = await this.#o.seed();
        if (generation !== this.#generation) return;
        this.#deliver(seeded, true);
        // Replay from here even when the log was empty, so nothing between the seed and the
        // socket opening is lost.
        if (this.window.lastSeq === null) this.#seededEmpty = true;
      } catch {
        // Go live anyway; the socket is the source of truth from here.
      }
    }
    if (generation !== this.#generation) return;
    this.#connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    this.#generation++;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    const s = this.#socket;
    this.#socket = null;
    if (s) {
      s.onclose = null;
      s.onmessage = null;
      s.onerror = null;
      s.onopen = null;
      s.close(1000, 'bye');
    }
    this.#setState('stopped');
  }

  /** Reconnects now (e.g. when the browser comes back online). */
  reconnectNow(): void {
    if (this.#state !== 'reconnecting') return;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#connect();
  }

  /** The delay before reconnect attempt `attempt` (0-based): doubling, capped, with jitter. */
  delayFor(attempt: number): number {
    const min = this.#o.minDelayMs ?? 500;
    const max = this.#o.maxDelayMs ?? 15_000;
    const base = Math.min(max, min * 2 ** Math.min(attempt, 20));
    const r = (this.#o.random ?? Math.random)();
    return Math.round(base * (0.5 + r * 0.5));
  }

  #since(): number | null {
    const last = this.window.lastSeq;
    if (last !== null) return last;
    return this.#seededEmpty ? 0 : null;
  }

  #connect(): void {
    const generation = this.#generation;
    this.#timer = null;
    this.#setState(this.#connects === 0 ? 'connecting' : 'reconnecting');
    let opened = false;
    const factory = this.#o.socket ?? browserSocket;
    let socket: SocketLike;
    try {
      socket = factory(this.#o.url(this.#since()), [`bearer.${this.#o.token}`]);
    } catch {
      this.#scheduleReconnect(generation, false);
      return;
    }
    this.#connects++;
    this.#socket = socket;
    socket.onopen = () => {
      if (generation !== this.#generation) return;
      opened = true;
      this.#attempt = 0;
      this.#closedBeforeOpen = 0;
      this.#setState('open');
    };
    socket.onmessage = (msg) => {
      if (generation !== this.#generation || typeof msg.data !== 'string') return;
      const parsed = (this.#o.parse ?? defaultParse<T>)(msg.data);
      if (parsed === null) return;
      if ('dropped' in parsed && !('seq' in parsed)) {
        this.#o.onDropped?.(parsed.dropped);
        return;
      }
      this.#deliver([parsed as T], false);
    };
    socket.onerror = () => {
      // `onclose` follows and decides what to do.
    };
    socket.onclose = () => {
      if (generation !== this.#generation) return;
      this.#socket = null;
      this.#scheduleReconnect(generation, opened);
    };
  }

  #scheduleReconnect(generation: number, opened: boolean): void {
    if (!opened) this.#closedBeforeOpen++;
    this.#setState('reconnecting');
    const go = () => {
      if (generation !== this.#generation) return;
      const delay = this.delayFor(this.#attempt++);
      this.#timer = this.#timers.setTimeout(() => {
        if (generation === this.#generation) this.#connect();
      }, delay);
    };
    if (this.#closedBeforeOpen >= 2 && this.#o.authRejected) {
      this.#o.authRejected().then(
        (rejected) => {
          if (generation !== this.#generation) return;
          if (rejected) this.stop();
          else go();
        },
        () => go(),
      );
    } else {
      go();
    }
  }

  #deliver(events: T[], seeded: boolean): void {
    const added = this.window.add(events);
    if (added.length > 0) this.#o.onEvents?.(added, seeded);
  }

  #setState(s: LiveState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.#o.onState?.(s);
  }
}
