import { describe, expect, it } from 'vitest';
import { cleanToken } from './session.svelte';

describe('cleanToken', () => {
  it('strips what people paste around a token', () => {
    expect(cleanToken('  fm_abc  \n')).toBe('fm_abc');
    expect(cleanToken('Bearer fm_abc')).toBe('fm_abc');
    expect(cleanToken('bearer   fm_abc')).toBe('fm_abc');
    expect(cleanToken('"fm_abc"')).toBe('fm_abc');
    expect(cleanToken("'fm_abc'")).toBe('fm_abc');
    expect(cleanToken('')).toBe('');
  });
});
