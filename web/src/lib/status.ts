// How statuses look and group in the dashboard: badge tones, board columns and list order.
import type { EventType, Severity, TaskStatus, TicketStatus } from './api/types';

/** Every ticket status in lifecycle order (the compile-time check below keeps it complete). */
export const TICKET_STATUSES = [
  'queued',
  'clarification_needed',
  'planning',
  'plan_validating',
  'decomposing',
  'decomposed',
  'implementing',
  'reviewing',
  'pr_created',
  'awaiting_merge',
  'partial',
  'merged',
  'done',
  'pr_closed',
  'failed',
  'blocked',
] as const satisfies readonly TicketStatus[];

// Fails to compile when the API gains a status this list lacks.
type MissingTicketStatus = Exclude<TicketStatus, (typeof TICKET_STATUSES)[number]>;
const ticketStatusesComplete: MissingTicketStatus extends never ? true : false = true;
void ticketStatusesComplete;

/** Colour families for badges. */
export type Tone = 'neutral' | 'info' | 'progress' | 'review' | 'success' | 'warning' | 'danger';

export const TICKET_TONE: Record<TicketStatus, Tone> = {
  queued: 'neutral',
  clarification_needed: 'warning',
  planning: 'info',
  plan_validating: 'info',
  decomposing: 'info',
  decomposed: 'info',
  implementing: 'progress',
  reviewing: 'review',
  pr_created: 'review',
  awaiting_merge: 'review',
  partial: 'warning',
  merged: 'success',
  done: 'success',
  pr_closed: 'neutral',
  failed: 'danger',
  blocked: 'danger',
};

export const TASK_TONE: Record<TaskStatus, Tone> = {
  pending: 'neutral',
  implementing: 'progress',
  verifying: 'progress',
  spec_review: 'review',
  quality_review: 'review',
  done: 'success',
  failed: 'danger',
  skipped: 'neutral',
};

export const SEVERITY_TONE: Record<Severity, Tone> = {
  info: 'info',
  warning: 'warning',
  error: 'danger',
};

/** Board columns, in the order work flows through them. */
export const STAGES = [
  'queued',
  'planning',
  'implementing',
  'reviewing',
  'awaiting_merge',
  'done',
  'failed',
] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_LABEL: Record<Stage, string> = {
  queued: 'Queued',
  planning: 'Planning',
  implementing: 'Implementing',
  reviewing: 'Reviewing',
  awaiting_merge: 'Awaiting merge',
  done: 'Done',
  failed: 'Failed',
};

/** The board column each status belongs to. */
export const STAGE_OF: Record<TicketStatus, Stage> = {
  queued: 'queued',
  clarification_needed: 'queued',
  planning: 'planning',
  plan_validating: 'planning',
  decomposing: 'planning',
  decomposed: 'implementing',
  implementing: 'implementing',
  reviewing: 'reviewing',
  pr_created: 'awaiting_merge',
  awaiting_merge: 'awaiting_merge',
  partial: 'awaiting_merge',
  merged: 'done',
  done: 'done',
  pr_closed: 'failed',
  failed: 'failed',
  blocked: 'failed',
};

/** The statuses shown in one board column, in lifecycle order. */
export function statusesOf(stage: Stage): TicketStatus[] {
  return TICKET_STATUSES.filter((s) => STAGE_OF[s] === stage);
}

/** Whether the API accepts `POST /api/tickets/{id}/retry` for a ticket in this status. */
export function canRetryTicket(status: TicketStatus): boolean {
  return status === 'failed' || status === 'blocked' || status === 'partial';
}

/** Statuses a ticket ends in: cancelling one of these is a 409. */
const FINISHED: readonly TicketStatus[] = ['merged', 'done', 'pr_closed', 'failed'];

/** Whether `POST /api/tickets/{id}/cancel` can stop a ticket in this status. */
export function canCancelTicket(status: TicketStatus): boolean {
  return !FINISHED.includes(status);
}

/** Whether `POST /api/tickets/{id}/rollback` accepts a ticket in this status. */
export function canRollbackTicket(status: TicketStatus): boolean {
  return status === 'awaiting_merge' || status === 'pr_closed' || status === 'failed' || status === 'blocked' || status === 'partial';
}

/** Whether the API accepts `POST /api/tasks/{id}/retry` for a task in this status. */
export function canRetryTask(status: TaskStatus): boolean {
  return status === 'failed';
}

/** Red→green evidence events of a task. */
export function isTddEvent(type: EventType): boolean {
  return type.startsWith('task_tdd_verify');
}
