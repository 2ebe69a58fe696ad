// The event window behind the live feed and a ticket's event log: events from the initial
// page, the WebSocket and its replays merged by `seq`, each kept once, in order, bounded.

export interface Sequenced {
  seq: number;
}

/** The newest `capacity` events by `seq`, each once, oldest first. */
export class EventWindow<T extends Sequenced> {
  readonly capacity: number;
  #items: T[] = [];
  #seqs = new Set<number>();
  #maxSeq: number | null = null;
  #evicted = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** The highest `seq` ever added (also after it left the window); `null` before any. */
  get lastSeq(): number | null {
    return this.#maxSeq;
  }

  /** Events in the window, oldest first. A new array each time. */
  get items(): T[] {
    return this.#items.slice();
  }

  /** Events in the window, newest first. */
  newestFirst(): T[] {
    return this.#items.slice().reverse();
  }

  get size(): number {
    return this.#items.length;
  }

  /** Events that left the window to keep it bounded. */
  get evicted(): number {
    return this.#evicted;
  }

  has(seq: number): boolean {
    return this.#seqs.has(seq);
  }

  /**
   * Adds events in any order and from any source; returns the ones that were new, in `seq`
   * order. Duplicates (same `seq`) and events older than a full window are ignored.
   */
  add(events: Iterable<T>): T[] {
    const incoming = [...events].filter((e) => Number.isSafeInteger(e.seq));
    incoming.sort((a, b) => a.seq - b.seq);
    const added: T[] = [];
    for (const e of incoming) {
      if (this.#seqs.has(e.seq)) continue;
      const first = this.#items[0];
      if (this.#items.length >= this.capacity && first !== undefined && e.seq < first.seq) continue;
      this.#insert(e);
      added.push(e);
      if (this.#maxSeq === null || e.seq > this.#maxSeq) this.#maxSeq = e.seq;
    }
    this.#trim();
    // An event added and trimmed in the same call was never visible; do not report it.
    return added.filter((e) => this.#seqs.has(e.seq));
  }

  /** Forgets everything, including `lastSeq`. */
  clear(): void {
    this.#items = [];
    this.#seqs.clear();
    this.#maxSeq = null;
  }

  #insert(e: T): void {
    const items = this.#items;
    const last = items[items.length - 1];
    if (last === undefined || last.seq < e.seq) {
      items.push(e);
    } else {
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((items[mid] as T).seq < e.seq) lo = mid + 1;
        else hi = mid;
      }
      items.splice(lo, 0, e);
    }
    this.#seqs.add(e.seq);
  }

  #trim(): void {
    const excess = this.#items.length - this.capacity;
    if (excess <= 0) return;
    for (const gone of this.#items.splice(0, excess)) this.#seqs.delete(gone.seq);
    this.#evicted += excess;
  }
}

/**
 * Whether an event type matches a filter written like the API's `types` parameter:
 * comma-separated globs where `*` matches any run of characters (`ticket_*,task_*_fail`).
 * An empty filter matches everything.
 */
export function matchesTypes(filter: string, type: string): boolean {
  const globs = filter
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  if (globs.length === 0) return true;
  return globs.some((g) => globToRegExp(g).test(type));
}

const globCache = new Map<string, RegExp>();

function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    const body = glob
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`);
    if (globCache.size > 200) globCache.clear();
    globCache.set(glob, re);
  }
  return re;
}
