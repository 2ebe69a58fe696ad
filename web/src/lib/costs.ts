// Cost summaries computed from a ticket's recorded LLM calls.
import type { LlmCall } from './api/types';

export interface CostRow {
  key: string;
  calls: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
}

export interface CostSummary {
  calls: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  failed: number;
  byRole: CostRow[];
  byModel: CostRow[];
}

type CallLike = Pick<LlmCall, 'role' | 'provider' | 'model' | 'tokens_input' | 'tokens_output' | 'cost_usd' | 'status'>;

/** `provider:model`, as the usage endpoints name models. */
export function modelKey(c: Pick<LlmCall, 'provider' | 'model'>): string {
  return c.provider && !c.model.includes(':') ? `${c.provider}:${c.model}` : c.model;
}

/** Totals and breakdowns by role and model, most expensive first. */
export function summarizeCalls(calls: readonly CallLike[]): CostSummary {
  const roles = new Map<string, CostRow>();
  const models = new Map<string, CostRow>();
  const total = { calls: 0, tokensIn: 0, tokensOut: 0, cost: 0, failed: 0 };
  for (const c of calls) {
    total.calls++;
    total.tokensIn += c.tokens_input;
    total.tokensOut += c.tokens_output;
    total.cost += c.cost_usd;
    if (c.status !== 'success') total.failed++;
    for (const [map, key] of [
      [roles, c.role],
      [models, modelKey(c)],
    ] as const) {
      const row = map.get(key) ?? { key, calls: 0, tokensIn: 0, tokensOut: 0, cost: 0 };
      row.calls++;
      row.tokensIn += c.tokens_input;
      row.tokensOut += c.tokens_output;
      row.cost += c.cost_usd;
      map.set(key, row);
    }
  }
  const order = (a: CostRow, b: CostRow) => b.cost - a.cost || b.calls - a.calls || a.key.localeCompare(b.key);
  return {
    ...total,
    cost: round6(total.cost),
    byRole: [...roles.values()].map(roundRow).sort(order),
    byModel: [...models.values()].map(roundRow).sort(order),
  };
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function roundRow(r: CostRow): CostRow {
  return { ...r, cost: round6(r.cost) };
}

export interface ChartDay {
  date: string;
  cost: number;
}

/**
 * `days` consecutive UTC days ending at `today` (YYYY-MM-DD), filled from `known` and zero
 * where a day has no spend.
 */
export function fillDays(known: readonly { date: string; cost_usd: number }[], today: string, days: number): ChartDay[] {
  const byDate = new Map(known.map((d) => [d.date, d.cost_usd]));
  const end = Date.parse(`${today}T00:00:00Z`);
  if (Number.isNaN(end)) return [];
  const out: ChartDay[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const date = new Date(end - i * 86_400_000).toISOString().slice(0, 10);
    out.push({ date, cost: byDate.get(date) ?? 0 });
  }
  return out;
}

/** A round upper bound for a chart axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 1;
  const pow = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * pow >= value) return m * pow;
  return 10 * pow;
}
