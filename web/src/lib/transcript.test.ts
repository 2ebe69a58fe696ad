import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from './api/types';
import { entryLabel, entryTone, groupTranscript, preview, reviewIssues } from './transcript';

function entry(seq: number, over: Partial<TranscriptEntry> = {}): TranscriptEntry {
  return {
    seq,
    attempt: 1,
    turn: 0,
    kind: 'note',
    tool: null,
    text: `entry ${seq}`,
    bytes: 7,
    truncated: false,
    is_error: false,
    details: {} as TranscriptEntry['details'],
    created_at: '2026-03-05T10:00:00Z',
    ...over,
  };
}

const details = (d: Record<string, unknown>) => d as unknown as TranscriptEntry['details'];

describe('groupTranscript', () => {
  it('groups by attempt, then by consecutive turn, in seq order', () => {
    const g = groupTranscript([
      entry(5, { attempt: 2, turn: 1 }),
      entry(1, { kind: 'prompt' }),
      entry(2, { turn: 1, kind: 'assistant' }),
      entry(3, { turn: 1, kind: 'tool_call', is_error: true }),
      entry(4, { turn: 0, kind: 'test_run' }),
    ]);
    expect(g.map((a) => a.attempt)).toEqual([1, 2]);
    expect(g[0]?.turns.map((t) => [t.turn, t.entries.map((e) => e.seq)])).toEqual([
      [0, [1]],
      [1, [2, 3]],
      [0, [4]],
    ]);
    expect(g[0]?.errors).toBe(1);
    expect(g[1]?.turns[0]?.entries[0]?.seq).toBe(5);
    expect(groupTranscript([])).toEqual([]);
  });
});

describe('labels', () => {
  it('names tools, test phases and review verdicts', () => {
    expect(entryLabel(entry(1, { kind: 'tool_call', tool: 'write_file' }))).toBe('Tool call: write_file');
    expect(entryLabel(entry(1, { kind: 'test_run', details: details({ phase: 'red', outcome: 'fail' }) }))).toBe('Test run · red · fail');
    expect(entryLabel(entry(1, { kind: 'review', details: details({ review: 'spec_review', approved: false }) }))).toBe('Review · spec review · rejected');
    expect(entryLabel(entry(1, { kind: 'mystery' }))).toBe('mystery');
  });

  it('colours errors and verdicts', () => {
    expect(entryTone(entry(1, { is_error: true, kind: 'review' }))).toBe('danger');
    expect(entryTone(entry(1, { kind: 'review', details: details({ approved: true }) }))).toBe('success');
    expect(entryTone(entry(1, { kind: 'review', details: details({ approved: false }) }))).toBe('warning');
  });

  it('lists review issues and previews the first line', () => {
    expect(reviewIssues(entry(1, { details: details({ issues: ['missing test', { file: 'a.rs' }] }) }))).toEqual(['missing test', '{"file":"a.rs"}']);
    expect(reviewIssues(entry(1))).toEqual([]);
    expect(preview('\n  first line\nsecond')).toBe('first line');
    expect(preview('x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});
