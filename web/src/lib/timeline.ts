// How the ticket timeline shows the events of hooks, skill steps and validation rules: a title,
// a tone, a few labelled facts and an output tail to expand. Pure functions over an event's
// type, severity, message and details (whose shape is read defensively: an older or newer
// server may leave a field out).
import { duration } from './format';
import type { Tone } from './status';

/** The part of an event the timeline reads. */
export interface TimelineEventInput {
  event_type: string;
  severity: 'info' | 'warning' | 'error';
  message: string;
  details?: unknown;
}

/** One labelled fact shown beside the event (`point: post_task`). */
export interface Fact {
  label: string;
  value: string;
}

/** One rule violation as an event's details carry it. */
export interface EventViolation {
  rule: string;
  severity: string;
  where: string;
  message: string;
}

/** What the timeline shows for an event it knows how to render. */
export interface TimelineView {
  /** The family: a hook run, one skill step, the rule gate, or a proposed rule. */
  kind: 'hook' | 'step' | 'rules' | 'rule_proposed';
  /** The badge's label. */
  label: string;
  /** The badge's tone. */
  tone: Tone;
  /** One line for people. */
  summary: string;
  facts: Fact[];
  /** Violations of the rule gate (empty for other kinds). */
  violations: EventViolation[];
  /** The output tail to show collapsed, when there is one. */
  output: string | null;
  /** A failure that did not stop the ticket (a non-blocking hook, warnings only). */
  warning: boolean;
}

/** The event types this module renders. */
export const EXTENSION_EVENTS = [
  'hook_started',
  'hook_passed',
  'hook_failed',
  'skill_step_completed',
  'task_rules_pass',
  'task_rules_fail',
  'rule_proposed',
  'rule_accepted',
  'rule_rejected',
] as const;

/** Whether the timeline renders `type` with `describeEvent`. */
export function isExtensionEvent(type: string): boolean {
  return (EXTENSION_EVENTS as readonly string[]).includes(type);
}

type Details = Record<string, unknown>;

function obj(v: unknown): Details {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Details) : {};
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() === '' ? null : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(str).filter((s): s is string => s !== null);
  const s = str(v);
  return s ? [s] : [];
}

function fact(facts: Fact[], label: string, value: string | null): void {
  if (value !== null && value !== '') facts.push({ label, value });
}

/** The last `max` characters of an output, starting at a line when one starts near the cut. */
export function outputTail(text: string | null | undefined, max = 4000): string | null {
  if (!text) return null;
  const trimmed = text.replace(/\s+$/, '');
  if (!trimmed) return null;
  if (trimmed.length <= max) return trimmed;
  let cut = trimmed.slice(trimmed.length - max);
  const nl = cut.indexOf('\n');
  if (nl >= 0 && nl < 200) cut = cut.slice(nl + 1);
  return `…\n${cut}`;
}

function outputOf(d: Details): string | null {
  return outputTail(str(d.output) ?? str(d.output_tail) ?? str(d.stderr) ?? str(d.stdout));
}

/** Whether a hook's details say it was blocking; `null` when they do not say (shown as a failure). */
function blockingOf(d: Details): boolean | null {
  return typeof d.blocking === 'boolean' ? d.blocking : null;
}

function hook(e: TimelineEventInput, d: Details): TimelineView {
  const point = str(d.point) ?? str(d.hook) ?? 'hook';
  const skills = list(d.skills);
  const skill = str(d.skill);
  const step = str(d.step);
  const blocking = blockingOf(d);
  const facts: Fact[] = [];
  fact(facts, 'point', point);
  fact(facts, skills.length > 1 ? 'skills' : 'skill', skills.length ? skills.join(', ') : skill);
  if (skill && skills.length > 1) fact(facts, 'failed skill', skill);
  fact(facts, 'step', step);
  if (blocking !== null) fact(facts, 'blocking', blocking ? 'yes' : 'no');
  fact(facts, 'took', num(d.duration_ms) === null ? null : duration(num(d.duration_ms)));
  // The reason may be a command's output tail: its first line goes in the summary, the whole
  // of it behind the output toggle.
  const full = str(d.reason) ?? str(d.error);
  const first = full?.trim().split('\n')[0] ?? null;
  const reason = first && first.length > 160 ? `${first.slice(0, 159)}…` : first;
  const detail = outputOf(d) ?? (full && full.trim() !== reason ? outputTail(full) : null);
  const who = skill ?? (skills.length ? skills.join(', ') : null);
  const on = who ? ` (${who})` : '';
  switch (e.event_type) {
    case 'hook_started':
      return { kind: 'hook', label: 'hook started', tone: 'progress', summary: `${point} hook started${on}`, facts, violations: [], output: null, warning: false };
    case 'hook_passed':
      return { kind: 'hook', label: 'hook passed', tone: 'success', summary: `${point} hook passed${on}`, facts, violations: [], output: outputOf(d), warning: false };
    default: {
      // A failing hook that does not block is a warning: the ticket goes on.
      const warning = blocking === false;
      const where = [skill, step].filter(Boolean).join(' › ');
      const summary = `${point} hook failed${where ? ` at ${where}` : ''}${reason ? `: ${reason}` : ''}${warning ? ' (non-blocking, the ticket goes on)' : ''}`;
      return {
        kind: 'hook',
        label: warning ? 'hook warning' : 'hook failed',
        tone: warning ? 'warning' : 'danger',
        summary,
        facts,
        violations: [],
        output: detail,
        warning,
      };
    }
  }
}

function step(d: Details): TimelineView {
  const skill = str(d.skill) ?? 'skill';
  const id = str(d.step) ?? 'step';
  const type = str(d.type) ?? str(d.step_type);
  const status = str(d.status) ?? 'ok';
  const allowed = d.allow_failure === true;
  const facts: Fact[] = [];
  fact(facts, 'point', str(d.point) ?? str(d.hook));
  fact(facts, 'skill', skill);
  fact(facts, 'step', type ? `${id} (${type})` : id);
  fact(facts, 'status', status);
  fact(facts, 'took', num(d.duration_ms) === null ? null : duration(num(d.duration_ms)));
  fact(facts, 'exit code', str(d.exit_code));
  const failed = status === 'failed' || status === 'error' || status === 'timed_out';
  const tone: Tone = failed ? (allowed ? 'warning' : 'danger') : status === 'skipped' ? 'neutral' : 'success';
  const reason = str(d.reason) ?? str(d.error);
  return {
    kind: 'step',
    label: `step ${status}`,
    tone,
    summary: `${skill} › ${id}${type ? ` (${type})` : ''} ${status}${failed && reason ? `: ${reason}` : ''}${failed && allowed ? ' (failure allowed)' : ''}`,
    facts,
    violations: [],
    output: outputOf(d),
    warning: failed && allowed,
  };
}

/** The violations an event's details list, each with its place as `path:line`. */
export function eventViolations(details: unknown): EventViolation[] {
  const d = obj(details);
  const raw = Array.isArray(d.violations) ? d.violations : [];
  return raw.map((v) => {
    const x = obj(v);
    const path = str(x.path) ?? str(x.file) ?? str(x.filename);
    const line = num(x.line);
    return {
      rule: str(x.rule_id) ?? str(x.rule) ?? '',
      severity: str(x.severity) ?? 'error',
      where: path ? (line === null ? path : `${path}:${line}`) : line === null ? '' : `line ${line}`,
      message: str(x.message) ?? '',
    };
  });
}

function count(d: Details, key: string, vs: EventViolation[], severity: string): number {
  return num(d[key]) ?? vs.filter((v) => v.severity === severity).length;
}

function rules(e: TimelineEventInput, d: Details): TimelineView {
  // `violations` lists what failed the gate; `warnings`, when a list, the warning violations.
  const warningList = Array.isArray(d.warnings) ? d.warnings.map((w) => ({ severity: 'warning', ...obj(w) })) : [];
  const violations = [...eventViolations(d), ...eventViolations({ violations: warningList })];
  const errors = count(d, 'errors', violations, 'error');
  const warnings = count(d, 'warnings', violations, 'warning');
  const checked = num(d.rules) ?? num(d.rules_checked);
  const facts: Fact[] = [];
  fact(facts, 'rules checked', checked === null ? null : String(checked));
  fact(facts, 'errors', String(errors));
  fact(facts, 'warnings', String(warnings));
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (e.event_type === 'task_rules_fail') {
    return {
      kind: 'rules',
      label: 'rules failed',
      tone: 'danger',
      summary: `Validation rules failed: ${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}`,
      facts,
      violations,
      output: null,
      warning: false,
    };
  }
  return {
    kind: 'rules',
    label: warnings ? 'rules passed, warnings' : 'rules passed',
    tone: warnings ? 'warning' : 'success',
    summary: warnings ? `Validation rules passed with ${plural(warnings, 'warning')}` : 'Validation rules passed',
    facts,
    violations,
    output: null,
    warning: warnings > 0,
  };
}

function proposed(e: TimelineEventInput, d: Details): TimelineView {
  const rule = obj(d.rule);
  const pick = (k: string) => str(d[k]) ?? str(rule[k]);
  const id = pick('rule_id') ?? pick('id') ?? str(d.rule);
  const kind = pick('kind');
  const pattern = pick('pattern');
  const facts: Fact[] = [];
  fact(facts, 'project', pick('project'));
  fact(facts, 'rule', id);
  fact(facts, 'kind', kind);
  fact(facts, 'pattern', pattern);
  fact(facts, 'severity', pick('severity'));
  fact(facts, 'rationale', pick('rationale'));
  return {
    kind: 'rule_proposed',
    label: 'rule proposed',
    tone: 'review',
    summary: `The reviewer proposed a rule${id ? ` ${id}` : ''}${kind && pattern ? ` (${kind} ${pattern})` : ''}: accept or reject it in Settings`,
    facts,
    violations: [],
    output: null,
    warning: false,
  };
}

function decided(e: TimelineEventInput, d: Details): TimelineView {
  const accepted = e.event_type === 'rule_accepted';
  const id = str(d.rule_id) ?? str(d.rule) ?? str(obj(d.rule).id);
  const facts: Fact[] = [];
  fact(facts, 'project', str(d.project));
  fact(facts, 'rule', id);
  return {
    kind: 'rule_proposed',
    label: accepted ? 'rule accepted' : 'rule rejected',
    tone: accepted ? 'success' : 'neutral',
    summary: `Rule${id ? ` ${id}` : ''} ${accepted ? 'accepted: it is enforced from now on' : 'rejected'}`,
    facts,
    violations: [],
    output: null,
    warning: false,
  };
}

/**
 * How the timeline shows `e`, or `null` for an event it shows as it always did (type, message
 * and raw details).
 */
export function describeEvent(e: TimelineEventInput): TimelineView | null {
  const d = obj(e.details);
  switch (e.event_type) {
    case 'hook_started':
    case 'hook_passed':
    case 'hook_failed':
      return hook(e, d);
    case 'skill_step_completed':
      return step(d);
    case 'task_rules_pass':
    case 'task_rules_fail':
      return rules(e, d);
    case 'rule_proposed':
      return proposed(e, d);
    case 'rule_accepted':
    case 'rule_rejected':
      return decided(e, d);
    default:
      return null;
  }
}
