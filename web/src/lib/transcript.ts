// A task's transcript (`GET /api/tasks/{id}/transcript`) grouped for the timeline: attempts,
// each with its agent turns, each with its records. Pure functions.
import type { TranscriptEntry } from './api/types';
import type { Tone } from './status';

export interface TurnGroup {
  /** 0: records outside an agent turn (the prompt, test runs, reviews). */
  turn: number;
  entries: TranscriptEntry[];
}

export interface AttemptGroup {
  attempt: number;
  turns: TurnGroup[];
  errors: number;
}

/** Groups records by attempt, then by consecutive turn, keeping their order. */
export function groupTranscript(entries: readonly TranscriptEntry[]): AttemptGroup[] {
  const sorted = [...entries].sort((a, b) => a.seq - b.seq);
  const attempts: AttemptGroup[] = [];
  for (const e of sorted) {
    let a = attempts.find((x) => x.attempt === e.attempt);
    if (!a) {
      a = { attempt: e.attempt, turns: [], errors: 0 };
      attempts.push(a);
    }
    const last = a.turns[a.turns.length - 1];
    if (last && last.turn === e.turn) last.entries.push(e);
    else a.turns.push({ turn: e.turn, entries: [e] });
    if (e.is_error) a.errors++;
  }
  return attempts.sort((x, y) => x.attempt - y.attempt);
}

const KIND_LABEL: Record<string, string> = {
  prompt: 'Prompt',
  assistant: 'Agent',
  tool_call: 'Tool call',
  tool_result: 'Tool result',
  note: 'Note',
  test_run: 'Test run',
  lint: 'Lint',
  review: 'Review',
};

/** A record's badge: what it is (with the tool, a test phase or a review verdict). */
export function entryLabel(e: TranscriptEntry): string {
  const base = KIND_LABEL[e.kind] ?? e.kind;
  const d = (e.details ?? {}) as Record<string, unknown>;
  if ((e.kind === 'tool_call' || e.kind === 'tool_result') && e.tool) return `${base}: ${e.tool}`;
  if (e.kind === 'test_run') {
    const phase = typeof d.phase === 'string' ? d.phase : '';
    const outcome = typeof d.outcome === 'string' ? d.outcome : '';
    return [base, phase, outcome].filter(Boolean).join(' · ');
  }
  if (e.kind === 'review') {
    const which = typeof d.review === 'string' ? d.review.replaceAll('_', ' ') : '';
    const verdict = d.approved === true ? 'approved' : d.approved === false ? 'rejected' : '';
    return [base, which, verdict].filter(Boolean).join(' · ');
  }
  return base;
}

export function entryTone(e: TranscriptEntry): Tone {
  if (e.is_error) return 'danger';
  const d = (e.details ?? {}) as Record<string, unknown>;
  if (e.kind === 'review') return d.approved === true ? 'success' : 'warning';
  if (e.kind === 'test_run' || e.kind === 'lint') return 'success';
  if (e.kind === 'assistant') return 'progress';
  if (e.kind === 'tool_call' || e.kind === 'tool_result') return 'review';
  return 'neutral';
}

/** The issues of a review record (`details.issues`), as text lines. */
export function reviewIssues(e: TranscriptEntry): string[] {
  const issues = ((e.details ?? {}) as Record<string, unknown>).issues;
  if (!Array.isArray(issues)) return [];
  return issues.map((i) => (typeof i === 'string' ? i : JSON.stringify(i)));
}

/** The first line of a record, clipped, for its collapsed row. */
export function preview(text: string, max = 140): string {
  const first = text.trimStart().split('\n', 1)[0] ?? '';
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}
