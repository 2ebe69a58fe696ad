// The dashboard's URLs. History-API routing: the server answers every non-file path with the
// app (SPA fallback), and the app picks the view here.

export type Route =
  | { name: 'tickets' }
  | { name: 'board' }
  | { name: 'ticket'; id: string }
  | { name: 'new-ticket' }
  | { name: 'feed' }
  | { name: 'costs' }
  | { name: 'pipelines' }
  | { name: 'tokens' }
  | { name: 'notifications' }
  | { name: 'search' }
  | { name: 'not-found'; path: string };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(safeDecode);
  const [first, second, ...rest] = parts;
  if (rest.length > 0) return { name: 'not-found', path: pathname };
  switch (first) {
    case undefined:
    case 'tickets':
      if (second === undefined) return { name: 'tickets' };
      if (second === 'new') return { name: 'new-ticket' };
      return { name: 'ticket', id: second };
    case 'board':
    case 'feed':
    case 'costs':
    case 'pipelines':
    case 'tokens':
    case 'notifications':
    case 'search':
      return second === undefined ? { name: first } : { name: 'not-found', path: pathname };
    default:
      return { name: 'not-found', path: pathname };
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export const ticketHref = (id: string) => `/tickets/${encodeURIComponent(id)}`;

/** The search page for a query (`/search?q=…`). */
export const searchHref = (q: string) => (q.trim() ? `/search?${new URLSearchParams({ q: q.trim() })}` : '/search');

/** Ticket list state that lives in the URL, so a filtered list can be linked and reloaded. */
export interface ListQuery {
  status: string;
  search: string;
  sort: 'created_desc' | 'created_asc' | 'updated_desc';
}

const SORTS = ['created_desc', 'created_asc', 'updated_desc'] as const;

export function parseListQuery(search: string): ListQuery {
  const p = new URLSearchParams(search);
  const sort = p.get('sort');
  return {
    status: p.get('status') ?? '',
    search: p.get('q') ?? '',
    sort: (SORTS as readonly string[]).includes(sort ?? '') ? (sort as ListQuery['sort']) : 'created_desc',
  };
}

export function listQueryString(q: ListQuery): string {
  const p = new URLSearchParams();
  if (q.status) p.set('status', q.status);
  if (q.search) p.set('q', q.search);
  if (q.sort !== 'created_desc') p.set('sort', q.sort);
  const s = p.toString();
  return s ? `?${s}` : '';
}
