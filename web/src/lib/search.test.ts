import { describe, expect, it } from 'vitest';
import { searchable, snippetParts } from './search';

describe('snippetParts', () => {
  it('drops empty parts and joins neighbours of the same kind', () => {
    expect(
      snippetParts([
        { text: 'a ', highlighted: false },
        { text: '', highlighted: true },
        { text: 'b', highlighted: false },
        { text: 'Auth', highlighted: true },
        { text: 'entication', highlighted: true },
        { text: ' <b>x</b>', highlighted: false },
      ]),
    ).toEqual([
      { text: 'a b', highlighted: false },
      { text: 'Authentication', highlighted: true },
      { text: ' <b>x</b>', highlighted: false },
    ]);
  });

  it('does not change its input', () => {
    const parts = [{ text: 'a', highlighted: false }, { text: 'b', highlighted: false }];
    snippetParts(parts);
    expect(parts[0]?.text).toBe('a');
  });
});

describe('searchable', () => {
  it('needs a letter or digit and at most 500 characters', () => {
    expect(searchable('auth')).toBe(true);
    expect(searchable('  é ')).toBe(true);
    expect(searchable('   ')).toBe(false);
    expect(searchable('--- !!')).toBe(false);
    expect(searchable('a'.repeat(500))).toBe(true);
    expect(searchable('a'.repeat(501))).toBe(false);
  });
});
