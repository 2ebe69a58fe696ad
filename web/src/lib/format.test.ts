import { describe, expect, it } from 'vitest';
import { dateTime, duration, humanize, percent, relative, shortSha, tokens, usd } from './format';

describe('usd', () => {
  it('shows cents for a dollar or more', () => {
    expect(usd(1.234)).toBe('$1.23');
    expect(usd(245.1)).toBe('$245.10');
    expect(usd(3000)).toBe('$3,000.00');
  });
  it('shows more precision for small amounts', () => {
    expect(usd(0.21)).toBe('$0.210');
    expect(usd(0.0042)).toBe('$0.0042');
    expect(usd(0)).toBe('$0.00');
  });
  it('handles negatives and missing values', () => {
    expect(usd(-2.5)).toBe('-$2.50');
    expect(usd(null)).toBe('—');
    expect(usd(Number.NaN)).toBe('—');
  });
});

describe('tokens', () => {
  it('abbreviates thousands and millions', () => {
    expect(tokens(950)).toBe('950');
    expect(tokens(12_000)).toBe('12k');
    expect(tokens(12_345)).toBe('12.3k');
    expect(tokens(1_820_000)).toBe('1.8M');
    expect(tokens(310_000)).toBe('310k');
    expect(tokens(2_500_000_000)).toBe('2.5B');
    expect(tokens(undefined)).toBe('—');
  });
});

describe('duration', () => {
  it('picks a unit by size', () => {
    expect(duration(850)).toBe('850 ms');
    expect(duration(8400)).toBe('8.4 s');
    expect(duration(125_000)).toBe('2m 05s');
    expect(duration(3_720_000)).toBe('1h 02m');
    expect(duration(-1)).toBe('—');
  });
});

describe('relative', () => {
  const now = Date.parse('2026-03-05T10:00:00Z');
  it('describes the past and the future', () => {
    expect(relative('2026-03-05T09:59:55Z', now)).toBe('just now');
    expect(relative('2026-03-05T09:59:00Z', now)).toBe('1 min ago');
    expect(relative('2026-03-05T09:57:00Z', now)).toBe('3 min ago');
    expect(relative('2026-03-05T07:00:00Z', now)).toBe('3 h ago');
    expect(relative('2026-03-01T10:00:00Z', now)).toBe('4 d ago');
    expect(relative('2026-03-05T12:00:00Z', now)).toBe('in 2 h');
    expect(relative('not a date', now)).toBe('—');
    expect(relative(null, now)).toBe('—');
  });
});

describe('dateTime', () => {
  it('formats in local time with zero padding', () => {
    const iso = new Date(2026, 2, 5, 7, 8, 9).toISOString();
    expect(dateTime(iso)).toBe('2026-03-05 07:08:09');
    expect(dateTime('')).toBe('—');
  });
});

describe('humanize', () => {
  it('capitalises the first word and keeps acronyms', () => {
    expect(humanize('implementing')).toBe('Implementing');
    expect(humanize('pr_created')).toBe('PR created');
    expect(humanize('task_tdd_verify_pass')).toBe('Task TDD verify pass');
    expect(humanize('awaiting_merge')).toBe('Awaiting merge');
  });
});

describe('small helpers', () => {
  it('shortens shas and formats percentages', () => {
    expect(shortSha('abc123def4567890')).toBe('abc123de');
    expect(shortSha(null)).toBe('—');
    expect(percent(69.14)).toBe('69.1%');
    expect(percent(80)).toBe('80%');
    expect(percent(Number.POSITIVE_INFINITY)).toBe('—');
  });
});
