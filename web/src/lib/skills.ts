// The skill catalogue on the settings page (`GET /api/skills`): one row per discovered skill
// file, whether it loaded, and each problem as `file:line: reason`. Pure functions over the
// generated API types.
import type { Skill, SkillList, SkillProblem } from './api/types';

/** A skill as the settings page shows it. */
export interface SkillRow {
  name: string;
  source: string;
  project: string | null;
  path: string;
  description: string;
  hooks: string[];
  /** Each step type once, in the order of first use. */
  stepTypes: string[];
  valid: boolean;
  problems: string[];
  shadowed: boolean;
}

/** A problem as `file:line: reason` (`file: reason` without a line). */
export function formatProblem(p: SkillProblem): string {
  return p.line === null || p.line === undefined ? `${p.file}: ${p.reason}` : `${p.file}:${p.line}: ${p.reason}`;
}

/** Where a skill came from, for people. */
export function sourceLabel(source: string): string {
  switch (source) {
    case 'data_dir':
      return 'data dir';
    case 'builtin':
      return 'built in';
    default:
      return source;
  }
}

const PRECEDENCE: Record<string, number> = { repository: 0, data_dir: 1, builtin: 2 };

function row(s: Skill): SkillRow {
  return {
    // A source that could not be read at all has no name: its problems still show.
    name: s.name || '(unreadable)',
    source: s.source,
    project: s.project ?? null,
    path: s.path,
    description: s.description ?? '',
    hooks: s.hooks,
    stepTypes: [...new Set(s.step_types)],
    valid: s.valid,
    problems: s.problems.map(formatProblem),
    shadowed: s.shadowed,
  };
}

/**
 * The rows of the catalogue, sorted by project (global first), name, then source precedence
 * (repository, data dir, built in); only those of `project` (and the global ones) when one is
 * given.
 */
export function skillRows(list: Pick<SkillList, 'skills'>, project: string | null = null): SkillRow[] {
  return list.skills
    .map(row)
    .filter((r) => project === null || r.project === null || r.project === project)
    .sort(
      (a, b) =>
        (a.project ?? '').localeCompare(b.project ?? '') ||
        a.name.localeCompare(b.name) ||
        (PRECEDENCE[a.source] ?? 9) - (PRECEDENCE[b.source] ?? 9),
    );
}

/** Counts for the section's heading. */
export function skillCounts(rows: readonly SkillRow[]): { total: number; invalid: number; shadowed: number } {
  return { total: rows.length, invalid: rows.filter((r) => !r.valid).length, shadowed: rows.filter((r) => r.shadowed).length };
}
