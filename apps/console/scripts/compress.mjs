// Writes `<file>.br` and `<file>.gz` beside every compressible file of the built console
// of 1 KB or more, so the server sends them as they are (no compression per request).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = new URL('../dist/app/', import.meta.url);
const COMPRESSIBLE = /\.(?:html|js|css|svg|json|map|txt)$/;

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (COMPRESSIBLE.test(e.name)) yield p;
  }
}

let raw = 0;
let br = 0;
for (const f of files(root.pathname)) {
  const data = readFileSync(f);
  if (statSync(f).size < 1024) continue;
  const b = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } });
  writeFileSync(`${f}.br`, b);
  writeFileSync(`${f}.gz`, gzipSync(data, { level: 9 }));
  raw += data.length;
  br += b.length;
}
console.log(`console: ${(raw / 1024).toFixed(1)} KB of text, ${(br / 1024).toFixed(1)} KB brotli`);
