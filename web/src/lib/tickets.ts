// Ticket list queries against `/api/ticket-summaries`.
import { api, unwrap } from './api/client';
import type { TicketDetail, TicketSummary } from './api/types';
import type { Page } from './pager.svelte';
import type { ListQuery } from './routes';

export const FIRST_PAGE = 100;
export const NEXT_PAGE = 500;

/** One page of ticket cards; the next cursor comes from the `X-Next-Cursor` header. */
export async function fetchSummaries(
  q: ListQuery,
  cursor: string | null,
  signal?: AbortSignal,
  limit = cursor ? NEXT_PAGE : FIRST_PAGE,
): Promise<Page<TicketSummary>> {
  let next: string | null = null;
  const items = await unwrap(
    api
      .GET('/api/ticket-summaries', {
        params: {
          query: {
            status: q.status || undefined,
            search: q.search || undefined,
            sort: q.sort,
            limit,
            cursor: cursor ?? undefined,
          },
        },
        signal,
      })
      .then((r) => {
        next = r.response.headers.get('x-next-cursor');
        return r;
      }),
  );
  return { items, next };
}

/** A list card refreshed from a ticket's full record. */
export function summaryFromDetail(prev: TicketSummary, t: TicketDetail): TicketSummary {
  return {
    ...prev,
    title: t.title,
    status: t.status,
    priority: t.priority,
    cost_usd: t.cost_usd,
    total_llm_calls: t.total_llm_calls,
    is_partial: t.is_partial,
    pr_url: t.pr_url,
    last_error: t.last_error ?? null,
    updated_at: t.updated_at,
  };
}
