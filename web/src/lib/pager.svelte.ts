// Cursor paging for long lists (the API's `X-Next-Cursor`): pages are appended in order,
// each item once, and a response for an older query never lands in a newer list.

export interface Page<T> {
  items: T[];
  /** Cursor of the next page; `null` on the last. */
  next: string | null;
}

export type FetchPage<T> = (cursor: string | null, signal: AbortSignal) => Promise<Page<T>>;

export class Pager<T extends { id: string }> {
  items = $state.raw<T[]>([]);
  loading = $state(false);
  done = $state(false);
  error = $state<string | null>(null);
  /** Pages loaded for the current query. */
  pages = $state(0);

  #fetch: FetchPage<T>;
  #cursor: string | null = null;
  #ids = new Set<string>();
  #abort: AbortController | null = null;
  #query = 0;

  constructor(fetch: FetchPage<T>) {
    this.#fetch = fetch;
  }

  /** Starts over with a new query (or the same one, to refresh) and loads its first page. */
  reset(fetch: FetchPage<T> = this.#fetch): Promise<void> {
    this.#abort?.abort();
    this.#abort = null;
    this.#fetch = fetch;
    this.#query++;
    this.#cursor = null;
    this.#ids = new Set();
    this.items = [];
    this.done = false;
    this.error = null;
    this.loading = false;
    this.pages = 0;
    return this.loadMore();
  }

  /** Loads the next page unless one is loading or the list is complete. */
  async loadMore(): Promise<void> {
    if (this.loading || this.done) return;
    const query = this.#query;
    const abort = new AbortController();
    this.#abort = abort;
    this.loading = true;
    this.error = null;
    try {
      const page = await this.#fetch(this.#cursor, abort.signal);
      if (query !== this.#query) return;
      const fresh = page.items.filter((it) => !this.#ids.has(it.id));
      for (const it of fresh) this.#ids.add(it.id);
      this.items = this.items.concat(fresh);
      this.pages++;
      this.#cursor = page.next;
      this.done = page.next === null || (page.items.length === 0);
    } catch (e) {
      if (query !== this.#query) return;
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      if (query === this.#query) {
        this.loading = false;
        this.#abort = null;
      }
    }
  }

  /** Replaces an item in place (e.g. after a live event changed it). */
  update(id: string, change: (item: T) => T): void {
    const i = this.items.findIndex((it) => it.id === id);
    if (i < 0) return;
    const next = this.items.slice();
    next[i] = change(next[i] as T);
    this.items = next;
  }

  /** Drops an item (e.g. after it was deleted). */
  remove(id: string): void {
    if (!this.#ids.delete(id)) return;
    this.items = this.items.filter((it) => it.id !== id);
  }
}
