import { describe, expect, it } from 'vitest';
import { listQueryString, parseListQuery, parseRoute, searchHref, ticketHref } from './routes';

describe('parseRoute', () => {
  it('maps paths to views', () => {
    expect(parseRoute('/')).toEqual({ name: 'tickets' });
    expect(parseRoute('/tickets')).toEqual({ name: 'tickets' });
    expect(parseRoute('/tickets/')).toEqual({ name: 'tickets' });
    expect(parseRoute('/tickets/new')).toEqual({ name: 'new-ticket' });
    expect(parseRoute('/tickets/0190-abc')).toEqual({ name: 'ticket', id: '0190-abc' });
    expect(parseRoute('/board')).toEqual({ name: 'board' });
    expect(parseRoute('/feed')).toEqual({ name: 'feed' });
    expect(parseRoute('/costs')).toEqual({ name: 'costs' });
    expect(parseRoute('/pipelines')).toEqual({ name: 'pipelines' });
    expect(parseRoute('/tokens')).toEqual({ name: 'tokens' });
    expect(parseRoute('/notifications')).toEqual({ name: 'notifications' });
    expect(parseRoute('/search')).toEqual({ name: 'search' });
  });

  it('reports unknown paths', () => {
    expect(parseRoute('/nope')).toEqual({ name: 'not-found', path: '/nope' });
    expect(parseRoute('/tickets/a/b')).toEqual({ name: 'not-found', path: '/tickets/a/b' });
    expect(parseRoute('/costs/x')).toEqual({ name: 'not-found', path: '/costs/x' });
  });

  it('round-trips ticket ids through links', () => {
    const id = 'a b/c%';
    expect(parseRoute(ticketHref(id))).toEqual({ name: 'ticket', id });
    expect(parseRoute('/tickets/%E0%A4%A')).toEqual({ name: 'ticket', id: '%E0%A4%A' });
  });
});

describe('searchHref', () => {
  it('puts the trimmed query in the URL, encoded', () => {
    expect(searchHref('  a&b c ')).toBe('/search?q=a%26b+c');
    expect(searchHref('   ')).toBe('/search');
    expect(new URLSearchParams(searchHref('x=1#y').split('?')[1]).get('q')).toBe('x=1#y');
  });
});

describe('list query', () => {
  it('parses and writes the URL state, omitting defaults', () => {
    const q = parseListQuery('?status=failed,blocked&q=auth&sort=updated_desc');
    expect(q).toEqual({ status: 'failed,blocked', search: 'auth', sort: 'updated_desc' });
    expect(listQueryString(q)).toBe('?status=failed%2Cblocked&q=auth&sort=updated_desc');
    expect(parseListQuery('?sort=bogus')).toEqual({ status: '', search: '', sort: 'created_desc' });
    expect(listQueryString(parseListQuery(''))).toBe('');
  });
});
