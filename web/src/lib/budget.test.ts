import { describe, expect, it } from 'vitest';
import { budgetUse } from './budget';

describe('budgetUse', () => {
  it('is green below the alert threshold', () => {
    const u = budgetUse(12.45, 150, 80);
    expect(u.level).toBe('ok');
    expect(u.pct).toBeCloseTo(8.3, 1);
    expect(u.fill).toBeCloseTo(8.3, 1);
  });

  it('turns amber at the alert threshold and red at the limit', () => {
    expect(budgetUse(119.99, 150, 80).level).toBe('ok');
    expect(budgetUse(120, 150, 80).level).toBe('alert');
    expect(budgetUse(149.99, 150, 80).level).toBe('alert');
    expect(budgetUse(150, 150, 80).level).toBe('over');
    const over = budgetUse(300, 150, 80);
    expect(over.level).toBe('over');
    expect(over.fill).toBe(100);
    expect(over.pct).toBe(200);
  });

  it('treats a missing limit as unlimited', () => {
    expect(budgetUse(5, null, 80)).toEqual({ spent: 5, limit: null, pct: null, fill: 0, level: 'unlimited' });
    expect(budgetUse(5, undefined, 80).level).toBe('unlimited');
  });

  it('treats a zero limit as exhausted once anything is spent', () => {
    expect(budgetUse(0, 0, 80).level).toBe('over');
    expect(budgetUse(0.01, 0, 80).fill).toBe(100);
  });

  it('clamps odd inputs', () => {
    expect(budgetUse(-3, 10, 80).spent).toBe(0);
    expect(budgetUse(Number.NaN, 10, 80).level).toBe('ok');
    expect(budgetUse(5, 10, 0).level).toBe('alert');
    expect(budgetUse(9, 10, 150).level).toBe('ok');
  });
});
