// Fails the build when the JS and CSS the first page load fetches (what dist/index.html names,
// plus the chunks those import statically) exceed the budget, gzipped. Chunks loaded with a
// dynamic `import()` (the diff viewer's highlight.js) are not counted: they load on first use.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const BUDGET_KB = Number(process.env.FOREMAN_BUNDLE_BUDGET_KB ?? 150);
const dist = fileURLToPath(new URL('../dist/', import.meta.url));

/** @param {string} rel */
async function gz(rel) {
  const file = join(dist, rel);
  const packed = await stat(`${file}.gz`).then((s) => s.size, () => null);
  return packed ?? gzipSync(await readFile(file), { level: constants.Z_BEST_COMPRESSION }).length;
}

const html = await readFile(join(dist, 'index.html'), 'utf8');
const queue = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => /** @type {string} */ (m[1]));
const seen = new Set();
let total = 0;
while (queue.length) {
  const rel = /** @type {string} */ (queue.shift());
  if (seen.has(rel)) continue;
  seen.add(rel);
  total += await gz(rel);
  if (rel.endsWith('.js')) {
    const code = await readFile(join(dist, rel), 'utf8');
    // Static imports between chunks (`import … from "./x.js"`, `import "./x.js"`), not `import(…)`.
    for (const m of code.matchAll(/(?:^|[;\n}])\s*import\s*(?:[\w*{}\s,$]+from\s*)?["']\.\/([^"']+\.js)["']/g)) queue.push(`assets/${m[1]}`);
  }
}
const kb = total / 1024;
console.log(`initial bundle: ${seen.size} files, ${kb.toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (kb > BUDGET_KB) {
  console.error(`the initial bundle is over its ${BUDGET_KB} KB budget: load large libraries with a dynamic import()`);
  process.exit(1);
}
