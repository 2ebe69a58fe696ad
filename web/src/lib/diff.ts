// Unified diffs (`git diff` output) parsed into files, hunks and numbered lines for the diff
// viewer. Pure functions.

export type LineKind = 'add' | 'del' | 'ctx' | 'note';

export interface DiffLine {
  kind: LineKind;
  /** The line without its `+`, `-` or ` ` prefix. */
  text: string;
  /** Line number in the old file (`null` for added lines and notes). */
  oldNo: number | null;
  /** Line number in the new file (`null` for deleted lines and notes). */
  newNo: number | null;
}

export interface DiffHunk {
  /** `@@ -1,3 +1,4 @@ fn main` */
  header: string;
  lines: DiffLine[];
}

export interface DiffFile {
  oldPath: string | null;
  newPath: string | null;
  /** The path to show: the new one, or the old one for a deleted file. */
  path: string;
  change: 'added' | 'deleted' | 'modified' | 'renamed';
  binary: boolean;
  hunks: DiffHunk[];
  additions: number;
  deletions: number;
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

function stripPrefix(p: string): string | null {
  const s = p.trim().replace(/^"(.*)"$/, '$1');
  if (s === '/dev/null') return null;
  return s.replace(/^[ab]\//, '');
}

function newFile(oldPath: string | null, newPath: string | null): DiffFile {
  return { oldPath, newPath, path: newPath ?? oldPath ?? '', change: 'modified', binary: false, hunks: [], additions: 0, deletions: 0 };
}

function finish(f: DiffFile): DiffFile {
  f.path = f.newPath ?? f.oldPath ?? '';
  if (f.oldPath === null && f.newPath !== null) f.change = 'added';
  else if (f.newPath === null && f.oldPath !== null) f.change = 'deleted';
  else if (f.change !== 'added' && f.change !== 'deleted' && f.oldPath !== f.newPath) f.change = 'renamed';
  return f;
}

/** Splits a unified diff into files; text before the first file header is ignored. */
export function parseDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let file: DiffFile | null = null;
  let hunk: DiffHunk | null = null;
  let oldNo = 0;
  let newNo = 0;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('diff --git ')) {
      if (file) files.push(finish(file));
      const m = /^diff --git (?:"?a\/(.+?)"?) (?:"?b\/(.+?)"?)$/.exec(line);
      file = newFile(m?.[1] ?? null, m?.[2] ?? null);
      hunk = null;
      continue;
    }
    if (hunk && file) {
      const c = line.charAt(0);
      if (c === '+') {
        hunk.lines.push({ kind: 'add', text: line.slice(1), oldNo: null, newNo: newNo++ });
        file.additions++;
        continue;
      }
      if (c === '-' && !line.startsWith('--- ')) {
        hunk.lines.push({ kind: 'del', text: line.slice(1), oldNo: oldNo++, newNo: null });
        file.deletions++;
        continue;
      }
      if (c === ' ' || line === '') {
        hunk.lines.push({ kind: 'ctx', text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
        continue;
      }
      if (c === '\\') {
        hunk.lines.push({ kind: 'note', text: line.slice(1).trim(), oldNo: null, newNo: null });
        continue;
      }
    }
    const h = HUNK.exec(line);
    if (h) {
      if (!file) {
        file = newFile(null, null);
      }
      hunk = { header: line, lines: [] };
      file.hunks.push(hunk);
      oldNo = Number(h[1]);
      newNo = Number(h[2]);
      continue;
    }
    if (line.startsWith('--- ') || line.startsWith('+++ ')) {
      if (!file || file.hunks.length > 0) {
        if (file) files.push(finish(file));
        file = newFile(null, null);
      }
      const p = stripPrefix(line.slice(4));
      if (line.startsWith('--- ')) file.oldPath = p;
      else file.newPath = p;
      hunk = null;
      continue;
    }
    if (!file) continue;
    hunk = null;
    if (line.startsWith('new file mode')) file.change = 'added';
    else if (line.startsWith('deleted file mode')) file.change = 'deleted';
    else if (line.startsWith('rename from ')) file.oldPath = line.slice(12);
    else if (line.startsWith('rename to ')) file.newPath = line.slice(10);
    else if (line.startsWith('Binary files') || line === 'GIT binary patch') file.binary = true;
  }
  if (file) files.push(finish(file));
  for (const f of files) {
    if (f.change === 'added') f.oldPath = null;
    if (f.change === 'deleted') f.newPath = null;
    f.path = f.newPath ?? f.oldPath ?? '';
  }
  return files;
}

const LANGUAGES: Record<string, string> = {
  rs: 'rust',
  ts: 'typescript',
  tsx: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  js: 'javascript',
  jsx: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  svelte: 'xml',
  html: 'xml',
  xml: 'xml',
  svg: 'xml',
  vue: 'xml',
  py: 'python',
  go: 'go',
  java: 'java',
  kt: 'kotlin',
  rb: 'ruby',
  php: 'php',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  hpp: 'cpp',
  cs: 'csharp',
  swift: 'swift',
  sh: 'bash',
  bash: 'bash',
  zsh: 'bash',
  json: 'json',
  toml: 'ini',
  ini: 'ini',
  yml: 'yaml',
  yaml: 'yaml',
  md: 'markdown',
  css: 'css',
  scss: 'scss',
  sql: 'sql',
};

/** The highlight.js language for a path, or `null` for plain text. */
export function languageOf(path: string): string | null {
  const name = path.split('/').pop() ?? '';
  if (name === 'Dockerfile') return 'dockerfile';
  if (name === 'Makefile') return 'makefile';
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  return LANGUAGES[name.slice(dot + 1).toLowerCase()] ?? null;
}

/** Bytes as `512 B`, `12.3 KB`, `4.0 MB`. */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
