// Packs each publishable package with `pnpm pack` (so `workspace:` ranges become real
// versions, as on publish), installs the tarballs into a scratch project outside the
// workspace, and imports them there with ESM and CJS. Also runs arethetypeswrong on
// each tarball.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const packages = ['engine', 'storage', 'query', 'delta'];
const pnpm = process.env.npm_execpath ?? 'pnpm';
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
const runPnpm = (args, cwd) => (pnpm.endsWith('.js') || pnpm.endsWith('.cjs') ? run(process.execPath, [pnpm, ...args], cwd) : run(pnpm, args, cwd));

let tmp;
const tarballs = {};

beforeAll(() => {
  tmp = tempDir('koru-pack-');
  const out = join(tmp.dir, 'tarballs');
  mkdirSync(out);
  for (const p of packages) {
    runPnpm(['pack', '--pack-destination', out], join(root, 'packages', p));
  }
  for (const f of readdirSync(out)) {
    const m = /^koru-(\w+)-/.exec(f);
    if (m) tarballs[m[1]] = join(out, f);
  }
  const app = join(tmp.dir, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'scratch-app',
      private: true,
      dependencies: Object.fromEntries(packages.map((p) => [`@koru/${p}`, `file:${tarballs[p]}`])),
      overrides: Object.fromEntries(packages.map((p) => [`@koru/${p}`, `file:${tarballs[p]}`])),
    }),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
}, 300_000);

afterAll(() => tmp?.cleanup());

describe('published packages', () => {
  it('packs one tarball per publishable package, holding dist and README only', () => {
    expect(Object.keys(tarballs).sort()).toEqual([...packages].sort());
    for (const p of packages) {
      const files = run('tar', ['-tzf', tarballs[p]], tmp.dir).trim().split('\n');
      expect(files).toContain('package/package.json');
      expect(files).toContain('package/README.md');
      expect(files.some((f) => f.startsWith('package/dist/'))).toBe(true);
      expect(files.some((f) => f.includes('/src/'))).toBe(false);
    }
  });

  it('imports from a scratch project with ESM', () => {
    const app = join(tmp.dir, 'app');
    writeFileSync(
      join(app, 'esm.mjs'),
      `import { KoruDelta } from '@koru/delta';
import { canonicalJson } from '@koru/engine';
import { FileAdapter } from '@koru/storage/node';
const db = await KoruDelta.start({ path: process.argv[2] });
const v = await db.put('users', 'alice', { b: 1, a: 2 });
console.log(JSON.stringify({ value: await db.get('users', 'alice'), n: (await db.history('users', 'alice')).length, canon: canonicalJson({ b: 1, a: 2 }), file: typeof FileAdapter, id: v.versionId.length }));
await db.close();`,
    );
    const out = JSON.parse(run(process.execPath, ['esm.mjs', join(tmp.dir, 'db-esm')], app));
    expect(out).toEqual({ value: { a: 2, b: 1 }, n: 1, canon: '{"a":2,"b":1}', file: 'function', id: 64 });
  });

  it('requires from a scratch project with CJS', () => {
    const app = join(tmp.dir, 'app');
    writeFileSync(
      join(app, 'cjs.cjs'),
      `const { KoruDelta, KoruError } = require('@koru/delta');
const { CausalStorage } = require('@koru/storage');
(async () => {
  const db = await KoruDelta.start({ path: process.argv[2] });
  await db.put('users', 'bob', { n: 1 });
  let code = null;
  try { await db.get('users', 'nobody'); } catch (e) { code = e instanceof KoruError ? e.code : 'raw'; }
  console.log(JSON.stringify({ value: await db.get('users', 'bob'), code, storage: typeof CausalStorage.open }));
  await db.close();
})();`,
    );
    const out = JSON.parse(run(process.execPath, ['cjs.cjs', join(tmp.dir, 'db-cjs')], app));
    expect(out).toEqual({ value: { n: 1 }, code: 'KEY_NOT_FOUND', storage: 'function' });
  });

  it('has types that resolve in every module mode (arethetypeswrong)', () => {
    const attw = join(root, 'tooling/packaging/node_modules/.bin/attw');
    for (const p of packages) {
      // Profile node16: ESM and CJS under node16 and bundler must resolve with the right
      // types (node10 is not supported). attw exits non-zero on any problem.
      const out = run(attw, [tarballs[p], '--profile', 'node16', '--format', 'table-flipped'], tmp.dir);
      expect(out).toContain(`@koru/${p}`);
      expect(out).not.toMatch(/Masquerading|FalseCJS|FalseESM|Missing/);
    }
  });
});
