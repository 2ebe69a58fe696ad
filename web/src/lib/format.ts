// Formatting for people: money, token counts, durations and times. Pure functions.

/** US dollars: cents for amounts of a dollar or more, four decimals below (LLM calls are cheap). */
export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const digits = abs === 0 || abs >= 1 ? 2 : abs >= 0.01 ? 3 : 4;
  const sign = value < 0 ? '-' : '';
  return `${sign}$${abs.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

/** Token counts: 950, 12.3k, 1.8M. */
export function tokens(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs < 1000) return String(Math.round(value));
  if (abs < 1_000_000) return `${trim(value / 1000)}k`;
  if (abs < 1_000_000_000) return `${trim(value / 1_000_000)}M`;
  return `${trim(value / 1_000_000_000)}B`;
}

function trim(n: number): string {
  const fixed = Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1);
  return fixed.endsWith('.0') ? fixed.slice(0, -2) : fixed;
}

/** Milliseconds as `850 ms`, `8.4 s`, `2m 05s`, `1h 02m`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.floor(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  return `${m}m ${String(sec).padStart(2, '0')}s`;
}

/** `3 min ago`, `in 2 h`, `just now`, relative to `now`. */
export function relative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const diff = Math.round((now - t) / 1000);
  const abs = Math.abs(diff);
  if (abs < 10) return 'just now';
  const [value, unit] =
    abs < 60
      ? [abs, 's']
      : abs < 3600
        ? [Math.floor(abs / 60), 'min']
        : abs < 86_400
          ? [Math.floor(abs / 3600), 'h']
          : [Math.floor(abs / 86_400), 'd'];
  return diff >= 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

/** A timestamp in the viewer's locale, to the second: `2026-03-05 10:00:00`. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Time of day only: `10:00:05`. */
export function timeOfDay(iso: string | null | undefined): string {
  const full = dateTime(iso);
  return full === '—' ? full : full.slice(11);
}

/** `implementing` → `Implementing`, `pr_created` → `PR created`, `task_tdd_verify_pass` → `Task TDD verify pass`. */
export function humanize(identifier: string): string {
  const words = identifier.split('_').filter(Boolean);
  const acronyms: Record<string, string> = { pr: 'PR', tdd: 'TDD', llm: 'LLM', api: 'API', mcp: 'MCP', usd: 'USD' };
  return words
    .map((w, i) => acronyms[w] ?? (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(' ');
}

/** A commit SHA shortened to 8 characters. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 8) : '—';
}

/** A percentage with at most one decimal: `69.1%`, `80%`. */
export function percent(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const r = Math.round(value * 10) / 10;
  return `${Number.isInteger(r) ? r.toFixed(0) : r.toFixed(1)}%`;
}
