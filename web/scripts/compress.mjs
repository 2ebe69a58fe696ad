// Writes a gzip variant (`<file>.gz`, best compression) next to each compressible file in
// dist/, once at build time, so the server never compresses per request. A variant is kept
// only when it is smaller than the original.
import { readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const COMPRESSIBLE = /\.(html|js|mjs|css|svg|json|txt|map|webmanifest|xml)$/i;

/**
 * @param {string} dir
 * @returns {AsyncGenerator<string>}
 */
async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

let raw = 0;
let packed = 0;
for await (const file of walk(dist)) {
  if (file.endsWith('.gz')) continue;
  if (!COMPRESSIBLE.test(file)) continue;
  const body = await readFile(file);
  const gz = gzipSync(body, { level: constants.Z_BEST_COMPRESSION });
  const target = `${file}.gz`;
  if (gz.length < body.length) {
    await writeFile(target, gz);
    raw += body.length;
    packed += gz.length;
  } else {
    await stat(target).then(() => unlink(target), () => undefined);
  }
}
console.log(`gzip: ${(raw / 1024).toFixed(1)} KiB -> ${(packed / 1024).toFixed(1)} KiB`);
