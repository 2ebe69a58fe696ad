// Budget bars: how full a budget is and which colour it shows.

export type BudgetLevel = 'unlimited' | 'ok' | 'alert' | 'over';

export interface BudgetUse {
  /** Spent so far (USD). */
  spent: number;
  /** The limit (USD); `null` when unlimited. */
  limit: number | null;
  /** Percent of the limit used; `null` when unlimited. */
  pct: number | null;
  /** Width of the bar, 0 to 100. */
  fill: number;
  level: BudgetLevel;
}

/**
 * How much of a budget is used: `alert` (amber) from `alertPct` percent of the limit, `over`
 * (red) at the limit and beyond. A zero limit means nothing may be spent.
 */
export function budgetUse(spent: number, limit: number | null | undefined, alertPct: number): BudgetUse {
  const s = Number.isFinite(spent) ? Math.max(0, spent) : 0;
  if (limit === null || limit === undefined || !Number.isFinite(limit) || limit < 0) {
    return { spent: s, limit: null, pct: null, fill: 0, level: 'unlimited' };
  }
  const pct = limit === 0 ? (s > 0 ? Number.POSITIVE_INFINITY : 100) : (s / limit) * 100;
  const threshold = Math.min(100, Math.max(0, alertPct));
  const level: BudgetLevel = pct >= 100 ? 'over' : pct >= threshold ? 'alert' : 'ok';
  return { spent: s, limit, pct, fill: Math.min(100, pct), level };
}
