import { describe, expect, it } from 'vitest';
import { notTakingWorkLabel, progressView } from './progress';

const run = { run_id: 'r1', completed: 3, total: 5, elapsed_seconds: 125, estimated_remaining_seconds: 250, cost_usd: 1.5, llm_calls: 40 };

describe('progressView', () => {
  it('shows completed of total, elapsed, the estimate and the cost', () => {
    expect(progressView(run)).toEqual({
      label: '3 of 5 tickets',
      pct: 60,
      elapsed: '2m 05s',
      remaining: 'about 4m 10s left',
      cost: '$1.50',
    });
  });

  it('says when there is no estimate yet, and when nothing is left', () => {
    expect(progressView({ ...run, completed: 0, estimated_remaining_seconds: null }).remaining).toBe('estimate after the first ticket');
    const done = progressView({ ...run, completed: 1, total: 1, estimated_remaining_seconds: 0 });
    expect(done.label).toBe('1 of 1 ticket');
    expect(done.pct).toBe(100);
    expect(done.remaining).toBe('nothing left');
  });

  it('has no percentage for an empty run and never passes 100%', () => {
    expect(progressView({ ...run, completed: 0, total: 0 }).pct).toBeNull();
    expect(progressView({ ...run, completed: 9, total: 5 }).pct).toBe(100);
  });
});

describe('notTakingWorkLabel', () => {
  it('explains each reason and passes unknown ones through readably', () => {
    expect(notTakingWorkLabel(null)).toBeNull();
    expect(notTakingWorkLabel(undefined)).toBeNull();
    expect(notTakingWorkLabel('budget_exhausted')).toBe('budget exhausted');
    expect(notTakingWorkLabel('no_slots')).toBe('every slot is busy');
    expect(notTakingWorkLabel('some_new_reason')).toBe('some new reason');
  });
});
