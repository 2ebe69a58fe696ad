// Full-text ticket search (`GET /api/tickets/search`): pages by the body's `next_cursor`, and
// snippets as parts so matched words are marked up by the view, never as raw HTML.
import { api, unwrap } from './api/client';
import type { SearchResult, SnippetPart } from './api/types';
import type { Page } from './pager.svelte';

export const SEARCH_PAGE = 20;
/** The API's limit on `q`. */
export const MAX_QUERY = 500;

export async function fetchSearch(q: string, cursor: string | null, signal?: AbortSignal, limit = SEARCH_PAGE): Promise<Page<SearchResult>> {
  const page = await unwrap(
    api.GET('/api/tickets/search', { params: { query: { q, limit, cursor: cursor ?? undefined } }, signal }),
  );
  return { items: page.items, next: page.next_cursor ?? null };
}

/** Snippet parts without empty pieces, neighbours of the same kind joined. */
export function snippetParts(parts: readonly SnippetPart[]): SnippetPart[] {
  const out: SnippetPart[] = [];
  for (const p of parts) {
    if (!p.text) continue;
    const last = out[out.length - 1];
    if (last && last.highlighted === p.highlighted) last.text += p.text;
    else out.push({ text: p.text, highlighted: p.highlighted });
  }
  return out;
}

/** Whether a query can be sent (the API takes 1 to 500 characters with a letter or digit). */
export function searchable(q: string): boolean {
  const t = q.trim();
  return t.length > 0 && t.length <= MAX_QUERY && /[\p{L}\p{N}]/u.test(t);
}
