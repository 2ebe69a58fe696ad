import { describe, expect, it } from 'vitest';
import { STAGES, STAGE_OF, TICKET_STATUSES, TICKET_TONE, canCancelTicket, canRetryTicket, canRollbackTicket, statusesOf } from './status';

describe('board stages', () => {
  it('puts every status in exactly one column', () => {
    const seen = STAGES.flatMap((stage) => statusesOf(stage));
    expect([...seen].sort()).toEqual([...TICKET_STATUSES].sort());
    expect(new Set(seen).size).toBe(TICKET_STATUSES.length);
  });

  it('keeps the columns the issue names in flow order', () => {
    expect(STAGES).toEqual(['queued', 'planning', 'implementing', 'reviewing', 'awaiting_merge', 'done', 'failed']);
    expect(STAGE_OF.merged).toBe('done');
    expect(STAGE_OF.blocked).toBe('failed');
    expect(STAGE_OF.clarification_needed).toBe('queued');
    expect(statusesOf('awaiting_merge')).toEqual(['pr_created', 'awaiting_merge', 'partial']);
  });

  it('has a tone for every status and lists each status once', () => {
    expect(new Set(TICKET_STATUSES).size).toBe(TICKET_STATUSES.length);
    for (const s of TICKET_STATUSES) expect(TICKET_TONE[s]).toBeTruthy();
  });
});

describe('retry rules', () => {
  it('matches the api: failed, blocked and partial tickets can be retried', () => {
    const retryable = TICKET_STATUSES.filter(canRetryTicket);
    expect(retryable).toEqual(['partial', 'failed', 'blocked']);
  });
});

describe('cancel and rollback', () => {
  it('offers cancel until a ticket has finished', () => {
    expect(canCancelTicket('queued')).toBe(true);
    expect(canCancelTicket('implementing')).toBe(true);
    expect(canCancelTicket('awaiting_merge')).toBe(true);
    for (const s of ['merged', 'done', 'pr_closed', 'failed'] as const) expect(canCancelTicket(s)).toBe(false);
  });

  it('offers rollback only where the API accepts it', () => {
    expect(TICKET_STATUSES.filter(canRollbackTicket)).toEqual(['awaiting_merge', 'partial', 'pr_closed', 'failed', 'blocked']);
  });
});
