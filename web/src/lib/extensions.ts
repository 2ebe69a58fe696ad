// Requests of the settings page's rules and skills sections, through the typed API client (its
// bearer token and sign-out on 401) and `unwrap` (the server's message on failure).
import { api, unwrap } from './api/client';
import type { ImportBody, Rule, RuleList, SkillList, ViolationList } from './api/types';

const project = (name: string) => ({ params: { path: { project: name } } });

/** A project's rules. */
export function loadRules(name: string): Promise<RuleList> {
  return unwrap(api.GET('/api/rules/{project}', project(name)));
}

/** Accepts or rejects a rule; the rule as it now is. */
export function decideRule(name: string, ruleId: string, decision: 'accept' | 'reject'): Promise<Rule> {
  const params = { params: { path: { project: name, rule_id: ruleId } } };
  return unwrap(decision === 'accept' ? api.POST('/api/rules/{project}/{rule_id}/accept', params) : api.POST('/api/rules/{project}/{rule_id}/reject', params));
}

/** Checks a file's content against the project's accepted rules. */
export function validateFile(name: string, filename: string, content: string): Promise<ViolationList> {
  return unwrap(api.POST('/api/rules/{project}/validate', { ...project(name), body: { filename, content } }));
}

/** The project's rules as the export document, pretty-printed. */
export async function exportRules(name: string): Promise<string> {
  const doc = await unwrap(api.GET('/api/rules/{project}/export', project(name)));
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Imports a rule document (see `parseImport`): `merge` replaces rules of the same id and adds
 * the others, `replace` replaces every stored rule.
 */
export function importRules(name: string, document: Record<string, unknown>, mode: 'merge' | 'replace' = 'merge'): Promise<RuleList> {
  // The schema describes the document as a free-form object; the server checks it.
  const body: ImportBody = { document: document as ImportBody['document'], mode };
  return unwrap(api.POST('/api/rules/{project}/import', { ...project(name), body }));
}

/** The discovered skills (`GET /api/skills`). */
export function loadSkills(): Promise<SkillList> {
  return unwrap(api.GET('/api/skills', {}));
}

/** Offers `text` as a file download named `name`. */
export function download(name: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
