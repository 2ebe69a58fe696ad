// The current run's progress (`run` and `not_taking_work_because` in `GET /api/status`), for
// the header. Pure functions.
import type { RunProgress } from './api/types';
import { duration, usd } from './format';

export interface ProgressView {
  /** `3 of 5 tickets`. */
  label: string;
  /** 0–100; `null` when the run has nothing to do. */
  pct: number | null;
  elapsed: string;
  /** `about 4m 10s left`, `—` before the first ticket finishes, `done` with none left. */
  remaining: string;
  cost: string;
}

export function progressView(run: RunProgress): ProgressView {
  const total = Math.max(0, run.total);
  const completed = Math.min(Math.max(0, run.completed), total);
  const left = total - completed;
  let remaining: string;
  if (total > 0 && left === 0) remaining = 'nothing left';
  else if (run.estimated_remaining_seconds === null || run.estimated_remaining_seconds === undefined) remaining = 'estimate after the first ticket';
  else remaining = `about ${duration(run.estimated_remaining_seconds * 1000)} left`;
  return {
    label: `${completed} of ${total} ticket${total === 1 ? '' : 's'}`,
    pct: total > 0 ? Math.round((completed / total) * 1000) / 10 : null,
    elapsed: duration(run.elapsed_seconds * 1000),
    remaining,
    cost: usd(run.cost_usd),
  };
}

const REASONS: Record<string, string> = {
  stopping: 'stopping',
  draining: 'draining: finishing running work, taking no new tickets',
  paused: 'paused',
  budget_exhausted: 'budget exhausted',
  no_slots: 'every slot is busy',
  no_daemon: 'no daemon: no project has a repository to work in',
};

/** Why the daemon takes no work, for people; `null` while it does. */
export function notTakingWorkLabel(reason: string | null | undefined): string | null {
  if (!reason) return null;
  return REASONS[reason] ?? reason.replaceAll('_', ' ');
}
