import { describe, expect, it } from 'vitest';
import { fillDays, modelKey, niceMax, summarizeCalls } from './costs';

const call = (role: string, model: string, cost: number, tin = 100, tout = 10, status: 'success' | 'error' = 'success') =>
  ({ role, provider: 'anthropic', model, cost_usd: cost, tokens_input: tin, tokens_output: tout, status }) as const;

describe('summarizeCalls', () => {
  it('totals calls and groups by role and model, most expensive first', () => {
    const s = summarizeCalls([
      call('implementer', 'claude-sonnet-4-6', 0.21),
      call('implementer', 'claude-sonnet-4-6', 0.1),
      call('spec_reviewer', 'claude-haiku-4-5', 0.02),
      call('planner', 'claude-sonnet-4-6', 0.4, 1000, 200, 'error'),
    ]);
    expect(s.calls).toBe(4);
    expect(s.failed).toBe(1);
    expect(s.tokensIn).toBe(1300);
    expect(s.tokensOut).toBe(230);
    expect(s.cost).toBeCloseTo(0.73, 10);
    expect(s.byRole.map((r) => r.key)).toEqual(['planner', 'implementer', 'spec_reviewer']);
    expect(s.byRole[1]).toMatchObject({ calls: 2, tokensIn: 200, cost: 0.31 });
    expect(s.byModel.map((r) => [r.key, r.calls])).toEqual([
      ['anthropic:claude-sonnet-4-6', 3],
      ['anthropic:claude-haiku-4-5', 1],
    ]);
  });

  it('is empty for no calls', () => {
    expect(summarizeCalls([])).toEqual({ calls: 0, tokensIn: 0, tokensOut: 0, cost: 0, failed: 0, byRole: [], byModel: [] });
  });

  it('does not double the provider prefix', () => {
    expect(modelKey({ provider: 'anthropic', model: 'anthropic:claude' })).toBe('anthropic:claude');
    expect(modelKey({ provider: '', model: 'm' })).toBe('m');
  });
});

describe('fillDays', () => {
  it('zero-fills missing days up to today', () => {
    const days = fillDays(
      [
        { date: '2026-02-27', cost_usd: 11.2 },
        { date: '2026-03-01', cost_usd: 3 },
      ],
      '2026-03-01',
      4,
    );
    expect(days).toEqual([
      { date: '2026-02-26', cost: 0 },
      { date: '2026-02-27', cost: 11.2 },
      { date: '2026-02-28', cost: 0 },
      { date: '2026-03-01', cost: 3 },
    ]);
    expect(fillDays([], 'bad', 3)).toEqual([]);
  });
});

describe('niceMax', () => {
  it('rounds up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(0.7)).toBeCloseTo(1);
    expect(niceMax(12.45)).toBe(20);
    expect(niceMax(150)).toBe(200);
    expect(niceMax(3000)).toBe(5000);
    expect(niceMax(5)).toBe(5);
  });
});
