// The app-wide live connection, started while signed in. Views read the event window
// (re-rendering at most a few times a second) or subscribe to each batch of new events.
import { api, unwrap } from './api/client';
import type { LiveEvent } from './api/types';
import { LiveConnection, liveUrl, type LiveState } from './live';
import { session } from './session.svelte';

/** Events kept in memory for the feed; older ones are dropped. */
export const FEED_CAPACITY = 2000;
/** Events loaded before going live. */
const SEED = 200;
/** Shortest time between re-renders of views that show the window. */
const RENDER_EVERY_MS = 250;

/** New events; `seeded` marks the history loaded at sign-in rather than events as they happen. */
type Listener = (events: LiveEvent[], seeded: boolean) => void;

class Live {
  state = $state<LiveState>('idle');
  /** Bumped (throttled) when the window changed. */
  version = $state(0);
  /** Events the server said this client missed while lagging (then replayed). */
  dropped = $state(0);
  /** Total events received since sign-in. */
  received = $state(0);
  #conn: LiveConnection<LiveEvent> | null = null;
  #listeners = new Set<Listener>();
  #flush: ReturnType<typeof setTimeout> | null = null;
  #onOnline = () => this.#conn?.reconnectNow();

  start(token: string): void {
    this.stop();
    const conn = new LiveConnection<LiveEvent>({
      url: (since) => liveUrl(location, since),
      token,
      capacity: FEED_CAPACITY,
      seed: async () => unwrap(api.GET('/api/events', { params: { query: { limit: SEED } } })),
      onEvents: (events, seeded) => {
        this.received += events.length;
        for (const l of this.#listeners) l(events, seeded);
        this.#schedule();
      },
      onState: (s) => (this.state = s),
      onDropped: (n) => (this.dropped += n),
      authRejected: async () => {
        const r = await fetch('/api/status', { headers: { authorization: `Bearer ${token}` } });
        if (r.status !== 401) return false;
        // The API client signs out with the server's reason on its next request; do it here
        // too in case no other request is made.
        if (session.token === token) session.signOut('Signed out: the server no longer accepts this token.');
        return true;
      },
    });
    this.#conn = conn;
    addEventListener('online', this.#onOnline);
    void conn.start();
  }

  stop(): void {
    this.#conn?.stop();
    this.#conn = null;
    removeEventListener('online', this.#onOnline);
    if (this.#flush !== null) clearTimeout(this.#flush);
    this.#flush = null;
    this.state = 'idle';
    this.received = 0;
    this.dropped = 0;
    this.version++;
  }

  /** Events in memory, newest first. */
  newestFirst(): LiveEvent[] {
    return this.#conn?.window.newestFirst() ?? [];
  }

  get lastSeq(): number | null {
    return this.#conn?.window.lastSeq ?? null;
  }

  get connects(): number {
    return this.#conn?.connects ?? 0;
  }

  /** Calls `fn` with every batch of new events until the returned function is called. */
  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #schedule(): void {
    if (this.#flush !== null) return;
    this.#flush = setTimeout(() => {
      this.#flush = null;
      this.version++;
    }, RENDER_EVERY_MS);
  }
}

export const live = new Live();
