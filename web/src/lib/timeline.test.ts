import { describe, expect, it } from 'vitest';
import { describeEvent, eventViolations, isExtensionEvent, outputTail } from './timeline';

const ev = (event_type: string, details: unknown, severity: 'info' | 'warning' | 'error' = 'info') => ({ event_type, severity, message: event_type, details });

describe('hook events', () => {
  it('shows a started hook with its point and skills', () => {
    const v = describeEvent(ev('hook_started', { point: 'post_task', skills: ['security-scan'], blocking: true }))!;
    expect(v.kind).toBe('hook');
    expect(v.tone).toBe('progress');
    expect(v.summary).toBe('post_task hook started (security-scan)');
    expect(v.facts).toEqual([
      { label: 'point', value: 'post_task' },
      { label: 'skill', value: 'security-scan' },
      { label: 'blocking', value: 'yes' },
    ]);
    expect(v.output).toBeNull();
  });

  it('shows a passed hook in green', () => {
    const v = describeEvent(ev('hook_passed', { point: 'pre_pr', skills: ['changelog', 'notes'] }))!;
    expect(v.tone).toBe('success');
    expect(v.summary).toBe('pre_pr hook passed (changelog, notes)');
    expect(v.facts).toContainEqual({ label: 'skills', value: 'changelog, notes' });
  });

  it('shows a failing blocking hook as a failure with skill, step, reason and output', () => {
    const v = describeEvent(
      ev('hook_failed', { point: 'post_task', skills: ['security-scan'], skill: 'security-scan', step: 'scan', reason: 'exit status 1', blocking: true, output: 'found 2 issues\n' }, 'warning'),
    )!;
    expect(v.tone).toBe('danger');
    expect(v.label).toBe('hook failed');
    expect(v.warning).toBe(false);
    expect(v.summary).toBe('post_task hook failed at security-scan › scan: exit status 1');
    expect(v.facts).toContainEqual({ label: 'step', value: 'scan' });
    expect(v.output).toBe('found 2 issues');
  });

  it('puts the first line of a long reason in the summary and the whole of it behind the toggle', () => {
    const reason = 'command exited 2\nnpm ERR! missing script: audit\nnpm ERR! see the log';
    const v = describeEvent(ev('hook_failed', { point: 'post_task', skill: 'security-scan', step: 'scan', reason, blocking: true }))!;
    expect(v.summary).toBe('post_task hook failed at security-scan › scan: command exited 2');
    expect(v.output).toBe(reason);
    const short = describeEvent(ev('hook_failed', { point: 'pre_pr', skill: 'changelog', reason: 'timed out' }))!;
    expect(short.output).toBeNull();
  });

  it('shows a failing non-blocking hook as a warning the ticket survives', () => {
    const v = describeEvent(ev('hook_failed', { point: 'post_merge', skill: 'notify', reason: 'timed out after 30s', blocking: false }, 'warning'))!;
    expect(v.tone).toBe('warning');
    expect(v.label).toBe('hook warning');
    expect(v.warning).toBe(true);
    expect(v.summary).toContain('non-blocking');
    expect(v.facts).toContainEqual({ label: 'blocking', value: 'no' });
  });

  it('copes with details that leave everything out', () => {
    const v = describeEvent(ev('hook_failed', null))!;
    expect(v.summary).toBe('hook hook failed');
    expect(v.facts).toEqual([{ label: 'point', value: 'hook' }]);
  });
});

describe('skill steps', () => {
  it('shows the skill, the step and its type, status and duration', () => {
    const v = describeEvent(ev('skill_step_completed', { skill: 'changelog', step: 'write', type: 'file_write', status: 'ok', duration_ms: 1500 }))!;
    expect(v.kind).toBe('step');
    expect(v.tone).toBe('success');
    expect(v.label).toBe('step ok');
    expect(v.summary).toBe('changelog › write (file_write) ok');
    expect(v.facts).toContainEqual({ label: 'took', value: '1.5 s' });
  });

  it('marks failed steps as failures, or warnings when failure is allowed, and skipped as neutral', () => {
    expect(describeEvent(ev('skill_step_completed', { skill: 's', step: 'a', status: 'failed', error: 'boom' }))).toMatchObject({ tone: 'danger', summary: 's › a failed: boom' });
    expect(describeEvent(ev('skill_step_completed', { skill: 's', step: 'a', status: 'failed', allow_failure: true }))).toMatchObject({ tone: 'warning', warning: true });
    expect(describeEvent(ev('skill_step_completed', { skill: 's', step: 'a', status: 'skipped' }))?.tone).toBe('neutral');
  });

  it('keeps the output tail, cut at a line', () => {
    const long = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n');
    const v = describeEvent(ev('skill_step_completed', { skill: 's', step: 'run', status: 'ok', output: long }))!;
    expect(v.output!.startsWith('…\nline ')).toBe(true);
    expect(v.output!.endsWith('line 999')).toBe(true);
    expect(v.output!.length).toBeLessThanOrEqual(4002);
  });
});

describe('rules events', () => {
  const violations = [
    { rule_id: 'no-todo', severity: 'error', path: 'src/a.rs', line: 12, message: 'no TODO' },
    { rule_id: 'no-print', severity: 'warning', path: 'src/b.rs', line: 3, message: 'no println' },
  ];

  it('lists the violations of a failing gate with their place', () => {
    const v = describeEvent(ev('task_rules_fail', { violations }, 'warning'))!;
    expect(v.tone).toBe('danger');
    expect(v.summary).toBe('Validation rules failed: 1 error, 1 warning');
    expect(v.violations).toEqual([
      { rule: 'no-todo', severity: 'error', where: 'src/a.rs:12', message: 'no TODO' },
      { rule: 'no-print', severity: 'warning', where: 'src/b.rs:3', message: 'no println' },
    ]);
  });

  it('shows a pass with warnings as a warning, a clean pass as a success', () => {
    expect(describeEvent(ev('task_rules_pass', { violations: [violations[1]] }))).toMatchObject({ tone: 'warning', summary: 'Validation rules passed with 1 warning', warning: true });
    expect(describeEvent(ev('task_rules_pass', { rules: 4, errors: 0, warnings: 0 }))).toMatchObject({ tone: 'success', summary: 'Validation rules passed' });
  });

  it('reads the warnings a passing gate lists', () => {
    const v = describeEvent(ev('task_rules_pass', { warnings: [{ rule_id: 'no-print', file: 'src/b.rs', line: 3, message: 'no println' }] }))!;
    expect(v.summary).toBe('Validation rules passed with 1 warning');
    expect(v.violations).toEqual([{ rule: 'no-print', severity: 'warning', where: 'src/b.rs:3', message: 'no println' }]);
  });

  it('shows a decision on a rule', () => {
    expect(describeEvent(ev('rule_accepted', { project: 'web', rule_id: 'no-unwrap' }))).toMatchObject({ tone: 'success', summary: 'Rule no-unwrap accepted: it is enforced from now on' });
    expect(describeEvent(ev('rule_rejected', { project: 'web', rule_id: 'no-unwrap' }))).toMatchObject({ label: 'rule rejected', summary: 'Rule no-unwrap rejected' });
  });

  it('reads violations without a path or a line', () => {
    expect(eventViolations({ violations: [{ line: 4, message: 'm' }, { path: 'x' }] })).toEqual([
      { rule: '', severity: 'error', where: 'line 4', message: 'm' },
      { rule: '', severity: 'error', where: 'x', message: '' },
    ]);
    expect(eventViolations('nonsense')).toEqual([]);
  });

  it('shows a proposed rule with its pattern and rationale', () => {
    const v = describeEvent(ev('rule_proposed', { project: 'web', rule: { id: 'no-unwrap', kind: 'regex', pattern: '\\.unwrap\\(\\)', severity: 'warning', rationale: 'panics in handlers' } }))!;
    expect(v.kind).toBe('rule_proposed');
    expect(v.summary).toBe('The reviewer proposed a rule no-unwrap (regex \\.unwrap\\(\\)): accept or reject it in Settings');
    expect(v.facts).toContainEqual({ label: 'rationale', value: 'panics in handlers' });
    expect(v.facts).toContainEqual({ label: 'project', value: 'web' });
  });
});

describe('other events', () => {
  it('are left to the plain rendering', () => {
    expect(describeEvent(ev('task_lint_fail', { output: 'x' }))).toBeNull();
    expect(isExtensionEvent('task_lint_fail')).toBe(false);
    expect(isExtensionEvent('hook_failed')).toBe(true);
  });

  it('outputTail drops trailing blank space and empty output', () => {
    expect(outputTail('  \n')).toBeNull();
    expect(outputTail(undefined)).toBeNull();
    expect(outputTail('ok\n\n')).toBe('ok');
  });
});
