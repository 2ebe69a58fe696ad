import { describe, expect, it } from 'vitest';
import type { Skill } from './api/types';
import { formatProblem, skillCounts, skillRows, sourceLabel } from './skills';

const skill = (extra: Partial<Skill>): Skill => ({
  name: 'x',
  source: 'builtin',
  path: 'builtin:x',
  hooks: [],
  step_types: [],
  valid: true,
  problems: [],
  shadowed: false,
  ...extra,
});

const builtin = skill({
  name: 'changelog',
  path: 'builtin:changelog',
  description: 'Writes a changelog entry',
  hooks: ['pre_pr'],
  step_types: ['llm_call', 'file_write', 'llm_call'],
  shadowed: true,
});
const repo = skill({ name: 'changelog', source: 'repository', project: 'web', path: '.foreman/skills/changelog/SKILL.md', hooks: ['pre_pr'], step_types: ['file_write'] });
const broken = skill({
  name: 'lint-fix',
  source: 'data_dir',
  path: '/data/skills/lint-fix/SKILL.md',
  valid: false,
  problems: [
    { file: '/data/skills/lint-fix/SKILL.md', line: 7, reason: 'unknown step type `shell`' },
    { file: '/data/skills/lint-fix/SKILL.md', line: null, reason: 'no steps' },
  ],
});

describe('skillRows', () => {
  it('shows hook points, each step type once, description and validity', () => {
    const [row] = skillRows({ skills: [builtin] });
    expect(row).toEqual({
      name: 'changelog',
      source: 'builtin',
      project: null,
      path: 'builtin:changelog',
      description: 'Writes a changelog entry',
      hooks: ['pre_pr'],
      stepTypes: ['llm_call', 'file_write'],
      valid: true,
      problems: [],
      shadowed: true,
    });
  });

  it('reports each problem as file:line: reason', () => {
    const [row] = skillRows({ skills: [broken] });
    expect(row!.valid).toBe(false);
    expect(row!.problems).toEqual(['/data/skills/lint-fix/SKILL.md:7: unknown step type `shell`', '/data/skills/lint-fix/SKILL.md: no steps']);
  });

  it('keeps a source that could not be read, named for people, with its problem', () => {
    const [row] = skillRows({ skills: [skill({ name: '', source: 'repository', project: 'web', path: '', valid: false, problems: [{ file: 'web:.foreman/skills', reason: 'git failed' }] })] });
    expect(row).toMatchObject({ name: '(unreadable)', valid: false, problems: ['web:.foreman/skills: git failed'] });
  });

  it('sorts global skills first, then by name and precedence, and filters by project', () => {
    const rows = skillRows({ skills: [repo, broken, builtin, skill({ name: 'audit' })] });
    expect(rows.map((r) => `${r.project ?? '-'} ${r.name} ${r.source}`)).toEqual(['- audit builtin', '- changelog builtin', '- lint-fix data_dir', 'web changelog repository']);
    expect(skillRows({ skills: [builtin, repo] }, 'api').map((r) => r.source)).toEqual(['builtin']);
    expect(skillRows({ skills: [builtin, repo] }, 'web').map((r) => r.source)).toEqual(['builtin', 'repository']);
    expect(skillCounts(rows)).toEqual({ total: 4, invalid: 1, shadowed: 1 });
  });

  it('precedence orders sources of one name: repository, data dir, built in', () => {
    const rows = skillRows({ skills: [skill({ name: 'n' }), skill({ name: 'n', source: 'data_dir' })] });
    expect(rows.map((r) => r.source)).toEqual(['data_dir', 'builtin']);
  });
});

describe('labels', () => {
  it('formats problems and sources', () => {
    expect(formatProblem({ file: 'a/SKILL.md', line: 3, reason: 'bad' })).toBe('a/SKILL.md:3: bad');
    expect(formatProblem({ file: 'a/SKILL.md', reason: 'bad' })).toBe('a/SKILL.md: bad');
    expect(sourceLabel('data_dir')).toBe('data dir');
    expect(sourceLabel('builtin')).toBe('built in');
    expect(sourceLabel('repository')).toBe('repository');
  });
});
