import { describe, expect, it } from 'vitest';
import { loadHighlighter } from './highlight';

describe('loadHighlighter', () => {
  it('loads once and highlights known languages', async () => {
    const a = await loadHighlighter();
    expect(await loadHighlighter()).toBe(a);
    const html = a.line('fn main() { let x = 1; }', 'rust');
    expect(html).toContain('<span class="hljs-keyword">fn</span>');
    expect(a.line('x', null)).toBeNull();
    expect(a.line('x', 'klingon')).toBeNull();
  });

  it('escapes markup in the code it highlights', async () => {
    const h = await loadHighlighter();
    const html = h.line('const s = "<img src=x onerror=alert(1)>" && a < b;', 'typescript') ?? '';
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&amp;&amp; a &lt; b');
    // Only highlight.js's own spans remain as tags.
    const tags = html.match(/<[^>]+>/g) ?? [];
    expect(tags.every((t) => /^<span class="hljs-[\w-]+( [\w-]+_*)*">$|^<\/span>$/.test(t))).toBe(true);
    const xml = h.line('<script>alert(1)</script>', 'xml') ?? '';
    expect(xml).not.toMatch(/<script/i);
  });
});
