import { describe, expect, it } from 'vitest';
import { EventWindow, matchesTypes } from './feed';

const ev = (seq: number) => ({ seq, id: `e${seq}` });
const seqs = (w: EventWindow<{ seq: number }>) => w.items.map((e) => e.seq);

describe('EventWindow', () => {
  it('keeps events in seq order whatever order they arrive in', () => {
    const w = new EventWindow(10);
    expect(w.add([ev(3), ev(1), ev(2)]).map((e) => e.seq)).toEqual([1, 2, 3]);
    w.add([ev(5), ev(4)]);
    expect(seqs(w)).toEqual([1, 2, 3, 4, 5]);
    expect(w.newestFirst().map((e) => e.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(w.lastSeq).toBe(5);
  });

  it('drops duplicates from overlapping replays', () => {
    const w = new EventWindow(10);
    w.add([ev(1), ev(2), ev(3)]);
    const added = w.add([ev(2), ev(3), ev(4), ev(4)]);
    expect(added.map((e) => e.seq)).toEqual([4]);
    expect(seqs(w)).toEqual([1, 2, 3, 4]);
  });

  it('fills holes when an older page arrives after live events', () => {
    const w = new EventWindow(10);
    w.add([ev(7), ev(8)]);
    w.add([ev(4), ev(5), ev(6), ev(7)]);
    expect(seqs(w)).toEqual([4, 5, 6, 7, 8]);
  });

  it('stays bounded and remembers the highest seq after eviction', () => {
    const w = new EventWindow(3);
    for (let i = 1; i <= 10; i++) w.add([ev(i)]);
    expect(seqs(w)).toEqual([8, 9, 10]);
    expect(w.evicted).toBe(7);
    expect(w.lastSeq).toBe(10);
    // An event older than a full window cannot come back in.
    expect(w.add([ev(2)])).toEqual([]);
    expect(seqs(w)).toEqual([8, 9, 10]);
  });

  it('does not report events that were trimmed in the same call', () => {
    const w = new EventWindow(2);
    const added = w.add([ev(1), ev(2), ev(3)]);
    expect(added.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('ignores events without an integer seq and rejects a bad capacity', () => {
    const w = new EventWindow(5);
    w.add([{ seq: Number.NaN }, { seq: 1.5 }, ev(1)]);
    expect(seqs(w)).toEqual([1]);
    expect(() => new EventWindow(0)).toThrow(RangeError);
  });

  it('clear forgets the last seq', () => {
    const w = new EventWindow(5);
    w.add([ev(1)]);
    w.clear();
    expect(w.size).toBe(0);
    expect(w.lastSeq).toBeNull();
  });

  it('never holds a duplicate or breaks order under random replays', () => {
    // Deterministic pseudo-random sequence so a failure reproduces.
    let x = 12345;
    const rand = (n: number) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % n;
    };
    const w = new EventWindow(50);
    let max = 0;
    for (let round = 0; round < 500; round++) {
      const from = Math.max(1, max - rand(20));
      const to = from + rand(10);
      const batch = [];
      for (let s = from; s <= to; s++) batch.push(ev(s));
      if (rand(2) === 0) batch.reverse();
      w.add(batch);
      max = Math.max(max, to);
      const got = seqs(w);
      expect(new Set(got).size).toBe(got.length);
      expect(got).toEqual([...got].sort((a, b) => a - b));
      expect(got.length).toBeLessThanOrEqual(50);
      expect(w.lastSeq).toBe(max);
    }
    // Every seq from the oldest kept to the newest is present: no gaps.
    const got = seqs(w);
    const first = got[0] as number;
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => first + i));
  });
});

describe('matchesTypes', () => {
  it('matches globs like the api types parameter', () => {
    expect(matchesTypes('', 'task_done')).toBe(true);
    expect(matchesTypes('task_*', 'task_done')).toBe(true);
    expect(matchesTypes('task_*', 'ticket_created')).toBe(false);
    expect(matchesTypes('ticket_*, task_*_fail', 'task_lint_fail')).toBe(true);
    expect(matchesTypes('task_*_fail', 'task_lint_pass')).toBe(false);
    expect(matchesTypes('pr_merged', 'pr_merged')).toBe(true);
    expect(matchesTypes('pr_merged', 'pr_merged_later')).toBe(false);
    expect(matchesTypes('a.b', 'axb')).toBe(false);
  });
});
