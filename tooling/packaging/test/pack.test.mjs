// Packs each publishable package with `pnpm pack` (so `workspace:` ranges become real
// versions, as on publish), installs the tarballs into a scratch project outside the
// workspace, and imports them there with ESM and CJS (the server and the CLI are ESM
// executables: served, connected to, and run as a binary). Also runs arethetypeswrong
// on each library tarball.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Publishable packages: npm name → directory. */
const publishable = {
  '@koru/engine': 'packages/engine',
  '@koru/storage': 'packages/storage',
  '@koru/storage-postgres': 'packages/storage-postgres',
  '@koru/query': 'packages/query',
  '@koru/delta': 'packages/delta',
  '@koru/client': 'packages/client',
  '@koru/cluster': 'packages/cluster',
  // The web console's built files: @koru/server depends on it and serves it at `/`.
  '@koru/console': 'apps/console',
  '@koru/server': 'apps/server',
  kdelta: 'apps/cli',
};
const names = Object.keys(publishable);
/** The libraries with both ESM and CJS builds (the server and the CLI are ESM executables). */
const dual = ['@koru/engine', '@koru/storage', '@koru/storage-postgres', '@koru/query', '@koru/delta', '@koru/client', '@koru/cluster'];
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
  for (const name of names) {
    const before = new Set(readdirSync(out));
    runPnpm(['pack', '--pack-destination', out], join(root, publishable[name]));
    const made = readdirSync(out).filter((f) => !before.has(f));
    expect(made).toHaveLength(1);
    tarballs[name] = join(out, made[0]);
  }
  const app = join(tmp.dir, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'scratch-app',
      private: true,
      dependencies: Object.fromEntries(names.map((n) => [n, `file:${tarballs[n]}`])),
      overrides: Object.fromEntries(names.map((n) => [n, `file:${tarballs[n]}`])),
    }),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
}, 300_000);

afterAll(() => tmp?.cleanup());

describe('published packages', () => {
  it('packs one tarball per publishable package, holding dist and README only', () => {
    expect(Object.keys(tarballs).sort()).toEqual([...names].sort());
    for (const n of names) {
      const files = run('tar', ['-tzf', tarballs[n]], tmp.dir).trim().split('\n');
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
    for (const n of [...dual, '@koru/server']) {
      // Profile node16 (esm-only for the server): ESM and CJS under node16 and bundler must
      // resolve with the right types (node10 is not supported). attw exits non-zero on any problem.
      const profile = dual.includes(n) ? 'node16' : 'esm-only';
      // @koru/delta's `./browser-worker.js` is a worker script (a file to serve, found with
      // require.resolve), not a module to import: it has no types by design.
      const skip = n === '@koru/delta' ? ['--exclude-entrypoints', './browser-worker.js'] : [];
      const out = run(attw, [tarballs[n], '--profile', profile, '--format', 'table-flipped', ...skip], tmp.dir);
      expect(out).toContain(n);
      expect(out).not.toMatch(/Masquerading|FalseCJS|FalseESM|Missing/);
    }
  });

  it('serves with @koru/server, talks to it with @koru/client (ESM and CJS), and runs the kdelta binary', () => {
    const app = join(tmp.dir, 'app');
    writeFileSync(
      join(app, 'remote.mjs'),
      `import { startServer } from '@koru/server';
import { KoruClient } from '@koru/client';
import { createRequire } from 'node:module';
const server = await startServer({ path: process.argv[2], port: 0, log: 'silent' });
const db = await KoruClient.connect(server.url);
await db.put('users', 'carol', { n: 3 });
const { KoruClient: CjsClient } = createRequire(import.meta.url)('@koru/client');
const cjs = await CjsClient.connect(server.url);
const value = await cjs.get('users', 'carol');
await db.close();
await cjs.close();
await server.close();
// Two cluster members from the packed server (and @koru/cluster under it): a write on one
// is on the other once acknowledged by all.
const a = await startServer({ path: process.argv[2] + '-a', port: 0, log: 'silent', cluster: {} });
const b = await startServer({ path: process.argv[2] + '-b', port: 0, log: 'silent', cluster: { join: [a.cluster.address] } });
while (a.cluster.peers().length === 0) await new Promise((r) => setTimeout(r, 20));
await b.db.put('users', 'erin', { n: 5 }, { ack: 'all' });
const replicated = await a.db.get('users', 'erin');
await b.close();
await a.close();
console.log(JSON.stringify({ value, health: 'ok', replicated }));`,
    );
    expect(JSON.parse(run(process.execPath, ['remote.mjs', join(tmp.dir, 'db-remote')], app))).toEqual({ value: { n: 3 }, health: 'ok', replicated: { n: 5 } });
    const kdelta = join(app, 'node_modules', '.bin', 'kdelta');
    expect(run(kdelta, ['--version'], app).trim()).toMatch(/^\d+\.\d+\.\d+$/);
    run(kdelta, ['-d', join(tmp.dir, 'db-cli'), 'set', 'users/dave', '{"n":4}'], app);
    expect(JSON.parse(run(kdelta, ['-d', join(tmp.dir, 'db-cli'), 'get', 'users/dave', '--json'], app))).toEqual({ n: 4 });
  });
});
