// Validation rules on the settings page: grouping by status, what a rule checks and the text
// of a violation for people, and the import/export file. Pure functions over the generated API
// types.

import type { Rule, Violation } from './api/types';

export type { Rule, Violation };

export type RuleStatus = 'accepted' | 'proposed' | 'rejected';

/** The order statuses are shown in: what needs a person first. */
export const STATUS_ORDER: readonly RuleStatus[] = ['proposed', 'accepted', 'rejected'];

export const STATUS_TITLE: Record<RuleStatus, string> = {
  proposed: 'Proposed by a reviewer',
  accepted: 'Accepted (enforced)',
  rejected: 'Rejected',
};

/** Rules by status, in `STATUS_ORDER`, each group sorted by id; empty groups left out. */
export function groupRules(rules: readonly Rule[]): { status: RuleStatus; rules: Rule[] }[] {
  return STATUS_ORDER.map((status) => ({
    status,
    rules: rules.filter((r) => r.status === status).sort((a, b) => a.id.localeCompare(b.id)),
  })).filter((g) => g.rules.length > 0);
}

/** What a rule checks, in a few words. */
export function describeRule(r: Pick<Rule, 'kind' | 'pattern' | 'applies_to'>): string {
  const files = r.applies_to?.length ? r.applies_to.join(', ') : 'every file';
  switch (r.kind) {
    case 'regex':
      return `added lines matching /${r.pattern}/ in ${files}`;
    case 'missing':
      return `${files} must contain /${r.pattern}/`;
    case 'forbidden_path':
      return `no changes to ${r.pattern}`;
    default:
      return `${String(r.kind)} ${r.pattern}`;
  }
}

/** A violation as one line: `file:12: [rule] message`. */
export function formatViolation(v: Partial<Violation>, filename = ''): string {
  const file = v.file || filename;
  const place = v.line === null || v.line === undefined ? file : `${file}:${v.line}`;
  const rule = v.rule_id ? `[${v.rule_id}] ` : '';
  const sev = v.severity === 'warning' ? 'warning: ' : '';
  return `${place ? `${place}: ` : ''}${sev}${rule}${v.message ?? 'violates the rule'}`;
}

/** The `format` of an exported rule document, which an import must name. */
export const EXPORT_FORMAT = 'foreman-rules/1';

/** The download's file name for a project's exported rules. */
export function exportFileName(project: string): string {
  const safe = project.replace(/[^A-Za-z0-9._-]+/g, '_') || 'project';
  return `foreman-rules-${safe}.json`;
}

/**
 * The body to import from a file's text: the JSON as the export wrote it (`{format, project,
 * rules}`, sent as it is: the server checks it), or a bare list of rules wrapped in a document
 * of the export's format. Throws with a message for people otherwise.
 */
export function parseImport(text: string): { rules: unknown[] } & Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`the file is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (Array.isArray(value)) return { format: EXPORT_FORMAT, rules: value };
  if (value && typeof value === 'object' && Array.isArray((value as { rules?: unknown }).rules)) {
    return value as { rules: unknown[] } & Record<string, unknown>;
  }
  throw new Error('the file has no "rules" list');
}

/** The project names of the configuration summary (`projects`), `default` when there are none. */
export function projectsOf(summary: unknown): string[] {
  const raw = summary && typeof summary === 'object' ? (summary as { projects?: unknown }).projects : undefined;
  const names = Array.isArray(raw)
    ? raw.map((p) => (typeof p === 'string' ? p : p && typeof p === 'object' ? (p as { name?: unknown }).name : null)).filter((p): p is string => typeof p === 'string' && p !== '')
    : [];
  return names.length ? [...new Set(names)] : ['default'];
}
