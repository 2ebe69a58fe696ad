// Syntax highlighting for the diff viewer, loaded on first use with a dynamic import so
// highlight.js is a separate chunk the first page load never fetches.

export interface Highlighter {
  /** Escaped HTML for one line, or `null` when the language is unknown (show plain text). */
  line(text: string, language: string | null): string | null;
}

let loading: Promise<Highlighter> | null = null;

export function loadHighlighter(): Promise<Highlighter> {
  loading ??= import('./hljs').then(
    (m): Highlighter => ({
      line: (text, language) => (language && m.knows(language) ? m.highlightLine(text, language) : null),
    }),
    (e: unknown) => {
      loading = null;
      throw e;
    },
  );
  return loading;
}
