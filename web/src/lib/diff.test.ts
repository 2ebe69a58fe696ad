import { describe, expect, it } from 'vitest';
import { bytes, languageOf, parseDiff } from './diff';

const SAMPLE = `diff --git a/calc.py b/calc.py
index 1111111..2222222 100644
--- a/calc.py
+++ b/calc.py
@@ -4,3 +4,7 @@ def add(a, b):
     """Return the sum of a and b."""
     return a + b
-
+
+def multiply(a, b):
+    return a * b
+
\\ No newline at end of file
diff --git a/tests/test_multiply.py b/tests/test_multiply.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/tests/test_multiply.py
@@ -0,0 +1,2 @@
+import unittest
+from calc import multiply
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
diff --git a/a.rs b/b.rs
similarity index 90%
rename from a.rs
rename to b.rs
diff --git a/logo.png b/logo.png
Binary files a/logo.png and b/logo.png differ
`;

describe('parseDiff', () => {
  const files = parseDiff(SAMPLE);

  it('finds every file with its kind of change', () => {
    expect(files.map((f) => [f.path, f.change, f.binary])).toEqual([
      ['calc.py', 'modified', false],
      ['tests/test_multiply.py', 'added', false],
      ['old.txt', 'deleted', false],
      ['b.rs', 'renamed', false],
      ['logo.png', 'modified', true],
    ]);
    expect(files[3]?.oldPath).toBe('a.rs');
  });

  it('numbers old and new lines and counts additions and deletions', () => {
    const f = files[0];
    expect(f?.additions).toBe(4);
    expect(f?.deletions).toBe(1);
    const lines = f?.hunks[0]?.lines ?? [];
    expect(f?.hunks[0]?.header).toBe('@@ -4,3 +4,7 @@ def add(a, b):');
    expect(lines[0]).toEqual({ kind: 'ctx', text: '    """Return the sum of a and b."""', oldNo: 4, newNo: 4 });
    expect(lines[2]).toEqual({ kind: 'del', text: '', oldNo: 6, newNo: null });
    expect(lines[4]).toEqual({ kind: 'add', text: 'def multiply(a, b):', oldNo: null, newNo: 7 });
    expect(lines[lines.length - 1]).toEqual({ kind: 'note', text: 'No newline at end of file', oldNo: null, newNo: null });
  });

  it('keeps lines that look like headers inside a hunk as content', () => {
    const d = parseDiff('--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n---- not a header\n++++ also content\n');
    expect(d).toHaveLength(1);
    expect(d[0]?.hunks[0]?.lines.map((l) => l.kind)).toEqual(['del', 'add']);
    expect(d[0]?.hunks[0]?.lines[0]?.text).toBe('--- not a header');
  });

  it('handles plain diffs without git headers and empty input', () => {
    expect(parseDiff('')).toEqual([]);
    const d = parseDiff('--- a/one\n+++ b/one\n@@ -1 +1 @@\n-x\n+y\n--- a/two\n+++ b/two\n@@ -1 +1 @@\n-p\n+q\n');
    expect(d.map((f) => f.path)).toEqual(['one', 'two']);
  });
});

describe('languageOf', () => {
  it('maps extensions and well-known names', () => {
    expect(languageOf('src/main.rs')).toBe('rust');
    expect(languageOf('web/src/App.svelte')).toBe('xml');
    expect(languageOf('calc.py')).toBe('python');
    expect(languageOf('Dockerfile')).toBe('dockerfile');
    expect(languageOf('README')).toBe(null);
    expect(languageOf('.gitignore')).toBe(null);
    expect(languageOf('data.unknown')).toBe(null);
  });
});

describe('bytes', () => {
  it('formats sizes', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(2048)).toBe('2.0 KB');
    expect(bytes(3 * 1024 * 1024)).toBe('3.0 MB');
  });
});
