import { describe, expect, it } from 'vitest';
import { type Rule, describeRule, exportFileName, formatViolation, groupRules, parseImport, projectsOf } from './rules';

const rule = (id: string, status: Rule['status'], extra: Partial<Rule> = {}): Rule => ({
  id,
  kind: 'regex',
  pattern: 'TODO',
  severity: 'error',
  applies_to: ['**/*.rs'],
  status,
  source: status === 'proposed' ? 'reviewer' : 'person',
  created_at: '2026-12-07T10:00:00Z',
  updated_at: '2026-12-07T10:00:00Z',
  ...extra,
});

describe('groupRules', () => {
  it('puts proposed rules first, then accepted, then rejected, each sorted by id, empty groups left out', () => {
    const groups = groupRules([rule('b', 'accepted'), rule('z', 'proposed'), rule('a', 'accepted'), rule('y', 'proposed')]);
    expect(groups.map((g) => g.status)).toEqual(['proposed', 'accepted']);
    expect(groups[0]!.rules.map((r) => r.id)).toEqual(['y', 'z']);
    expect(groups[1]!.rules.map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('returns no groups for no rules', () => {
    expect(groupRules([])).toEqual([]);
  });
});

describe('describeRule', () => {
  it('says what each kind checks', () => {
    expect(describeRule({ kind: 'regex', pattern: 'dbg!', applies_to: ['*.rs'] })).toBe('added lines matching /dbg!/ in *.rs');
    expect(describeRule({ kind: 'missing', pattern: 'SPDX', applies_to: [] })).toBe('every file must contain /SPDX/');
    expect(describeRule({ kind: 'forbidden_path', pattern: 'migrations/**', applies_to: [] })).toBe('no changes to migrations/**');
  });
});

describe('formatViolation', () => {
  it('names the file, line, severity and rule', () => {
    expect(formatViolation({ rule_id: 'no-todo', severity: 'error', line: 3, message: 'no TODOs' }, 'src/a.rs')).toBe('src/a.rs:3: [no-todo] no TODOs');
    expect(formatViolation({ rule_id: 'w', severity: 'warning', line: 1, message: 'hmm', file: 'b.rs' }, 'a.rs')).toBe('b.rs:1: warning: [w] hmm');
    expect(formatViolation({ rule_id: 'req', message: 'missing header' }, 'a.rs')).toBe('a.rs: [req] missing header');
    expect(formatViolation({ rule_id: 'f', severity: 'error', file: 'c.rs', line: 9, message: 'm' }, 'a.rs')).toBe('c.rs:9: [f] m');
    expect(formatViolation({})).toBe('violates the rule');
  });
});

describe('import and export', () => {
  it('names the download after the project, safely', () => {
    expect(exportFileName('web')).toBe('foreman-rules-web.json');
    expect(exportFileName('a/b c')).toBe('foreman-rules-a_b_c.json');
  });

  it('accepts an export document or a bare list, and explains what it rejects', () => {
    expect(parseImport('{"project":"web","rules":[{"id":"a"}]}')).toEqual({ project: 'web', rules: [{ id: 'a' }] });
    expect(parseImport('[{"id":"a"}]')).toEqual({ format: 'foreman-rules/1', rules: [{ id: 'a' }] });
    expect(() => parseImport('{"id":"a"}')).toThrow('no "rules" list');
    expect(() => parseImport('not json')).toThrow('not JSON');
  });
});

describe('projectsOf', () => {
  it('reads the configuration summary, default when it names none', () => {
    expect(projectsOf({ projects: ['default', 'web', 'web'] })).toEqual(['default', 'web']);
    expect(projectsOf({ projects: [{ name: 'api' }] })).toEqual(['api']);
    expect(projectsOf({})).toEqual(['default']);
    expect(projectsOf(null)).toEqual(['default']);
  });
});
