// kdelta on a PostgreSQL store (`--store URL`, KORU_STORE), against a real PostgreSQL the
// test starts: the data commands, export and import both ways between a directory and a
// store with the same version ids, `kdelta start --store`, the usage errors of a store
// given with another place for the data, and a password that is never printed.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresAvailable, startPostgres, type PgServer } from '@koru/vitest-preset/postgres';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kdelta, start, type Run } from './run.js';

const tool = postgresAvailable();
if (!tool.available) console.log(`[kdelta postgres] skipped: ${tool.reason}`);

/** The environment without the caller's settings of where the data is, or of a server. */
const CLEAN = { KORU_PORT: '', PORT: '', KORU_TOKEN: '', KORU_URL: '', KORU_CLUSTER_KEY: '' };

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function freshDir(): string {
  const t = tempDir('kdelta-store-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** The version ids of an export, in its order. */
function versionIds(exported: string): string[] {
  return exported
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { versionId: string }).versionId);
}

function ok(r: Run): Run {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
}

/** `kdelta ARGS` (a `start`) until it serves; killed after the test. */
async function serving(args: readonly string[], env: Record<string, string> = {}): Promise<{ url: string; proc: ChildProcess; stderr: () => string }> {
  const proc = start(args, { env: { ...CLEAN, ...env }, cwd: freshDir() });
  const gone = new Promise((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once('exit', r)));
  cleanups.push(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    return gone;
  });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start: ${err}`)), 20_000);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /serving \S+ at (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${err}`));
    });
  });
  return { url, proc, stderr: () => err };
}

describe.skipIf(!tool.available)('kdelta on a PostgreSQL store', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('writes, reads, lists, queries and verifies through --store', async () => {
    const store = await pg.createDatabase();
    const k = (...args: string[]): Promise<Run> => kdelta(['--store', store, ...args], { env: CLEAN });
    ok(await k('set', 'users/alice', '{"age":30}'));
    ok(await k('set', 'users/alice', '{"age":31}'));
    ok(await k('set', 'users/bob', '{"age":40}'));
    expect(JSON.parse(ok(await k('get', 'users/alice')).stdout)).toEqual({ age: 31 });
    expect(ok(await k('log', 'users/alice', '--json')).stdout.trim().split('\n').map((l) => (JSON.parse(l) as { value: unknown }).value)).toEqual([{ age: 31 }, { age: 30 }]);
    expect(ok(await k('list', 'users')).stdout).toMatch(/alice[\s\S]*bob/);
    const query = JSON.parse(ok(await k('query', 'users', '--filter', 'age > 35', '--json')).stdout) as { rows: Array<{ key: string }> };
    expect(query.rows.map((r) => r.key)).toEqual(['bob']);
    expect(JSON.parse(ok(await k('verify', '--json')).stdout)).toMatchObject({ ok: true, versions: 3 });
    // KORU_STORE names it too.
    expect(JSON.parse(ok(await kdelta(['get', 'users/bob'], { env: { ...CLEAN, KORU_STORE: store } })).stdout)).toEqual({ age: 40 });
  });

  it('export and import move data both ways between a directory and a store, with the same version ids', async () => {
    const dir = freshDir();
    const store = await pg.createDatabase();
    const local = (...args: string[]): Promise<Run> => kdelta(['-d', join(dir, 'db'), ...args], { env: CLEAN, cwd: dir });
    const onStore = (...args: string[]): Promise<Run> => kdelta(['--store', store, ...args], { env: CLEAN, cwd: dir });
    ok(await local('set', 'a/one', '1'));
    ok(await local('set', 'a/one', '2'));
    ok(await local('delete', 'a/one'));
    ok(await local('set', 'b/two', '{"x":[1,2]}'));
    const fromDir = ok(await local('export')).stdout;
    writeFileSync(join(dir, 'dir.jsonl'), fromDir);
    ok(await onStore('import', 'dir.jsonl'));
    const onStoreExport = ok(await onStore('export')).stdout;
    expect(versionIds(onStoreExport)).toEqual(versionIds(fromDir));
    expect(onStoreExport).toBe(fromDir);

    // And back: writes made on the store, into a fresh directory.
    ok(await onStore('set', 'c/three', '"made on the store"'));
    const fromStore = ok(await onStore('export')).stdout;
    writeFileSync(join(dir, 'store.jsonl'), fromStore);
    const back = (...args: string[]): Promise<Run> => kdelta(['-d', join(dir, 'back'), ...args], { env: CLEAN, cwd: dir });
    ok(await back('import', 'store.jsonl'));
    const backExport = ok(await back('export')).stdout;
    expect(versionIds(backExport)).toEqual(versionIds(fromStore));
    expect(JSON.parse(ok(await back('get', 'c/three')).stdout)).toBe('made on the store');
    expect(JSON.parse(ok(await back('verify', '--json')).stdout)).toMatchObject({ ok: true });
  });

  it('status shows the store without its password; nothing else prints it', async () => {
    const url = new URL(await pg.createDatabase());
    // The harness trusts loopback: the password is accepted and ignored.
    url.password = 'hunter2-secret';
    const store = url.toString();
    const status = ok(await kdelta(['--store', store, 'status'], { env: CLEAN }));
    expect(status.stdout).toMatch(/database\s+postgres:\/\/koru:\*\*\*@127\.0\.0\.1/);
    const json = JSON.parse(ok(await kdelta(['--store', store, 'status', '--json'], { env: CLEAN })).stdout) as Record<string, unknown>;
    expect(json.store).toMatch(/^postgres:\/\/koru:\*\*\*@/);
    expect(json).not.toHaveProperty('path');
    // A store that cannot be reached: UNAVAILABLE, exit 1, the password still hidden.
    const down = new URL(store);
    down.port = '1';
    const unreachable = await kdelta(['--store', down.toString(), 'get', 'a/b'], { env: CLEAN });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/\(UNAVAILABLE\)/);
    for (const r of [status, unreachable]) expect(r.stdout + r.stderr).not.toMatch(/hunter2/);
  });

  it('kdelta start --store (the flag before or after start) serves the store, with no cluster', async () => {
    const store = await pg.createDatabase();
    const after = await serving(['start', '--store', store, '--port', '0', '--no-console']);
    const before = await serving(['--store', store, 'start', '--port', '0', '--no-console']);
    expect(after.stderr()).toContain(`serving ${store} at`);
    expect(after.stderr()).not.toMatch(/cluster member/);
    const res = await fetch(`${after.url}/v1/kv/shared/k`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"from":"after"}' });
    expect(res.status).toBe(200);
    // One database: the other server reads it at once.
    expect(await (await fetch(`${before.url}/v1/kv/shared/k`)).json()).toEqual({ from: 'after' });
    expect(await (await fetch(`${before.url}/v1/status`)).json()).toMatchObject({ stateRoot: null, cluster: null });
    // And the command line reads what the servers wrote.
    expect(JSON.parse(ok(await kdelta(['--store', store, 'get', 'shared/k'], { env: CLEAN })).stdout)).toEqual({ from: 'after' });
    after.proc.kill('SIGTERM');
    expect(await new Promise((r) => after.proc.once('exit', r))).toBe(0);
  });

  it('refuses a store given with another place for the data, twice, or with cluster flags (exit 2, one line)', async () => {
    const store = pg.url;
    const dir = freshDir();
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--store', store, '-d', dir, 'status'], {}, /--store and --db-path \(-d\) both say where the data is/],
      [['--store', store, 'status'], { KORU_DB_PATH: dir }, /--store and KORU_DB_PATH both say where the data is: unset KORU_DB_PATH/],
      [['-d', dir, 'status'], { KORU_STORE: store }, /KORU_STORE and --db-path \(-d\) both say where the data is: unset KORU_STORE/],
      [['--store', store, '--url', 'http://127.0.0.1:1', 'status'], {}, /--store and --url both say where the data is/],
      [['--store', store, 'status'], { KORU_URL: 'http://127.0.0.1:1' }, /--store and KORU_URL both/],
      [['--store', store, 'start', '--store', store], {}, /--store given twice/],
      [['start', '--store', store, '--store', 'postgres://other/db'], {}, /--store given twice/],
      [['start', '--store', store, '--join', '127.0.0.1:7001'], {}, /--join is for the embedded cluster/],
      [['start', '--store', store, '--cluster-key', 'k'], {}, /--cluster-key is for the embedded cluster/],
      [['--store', store, 'repair'], {}, /repair mends a database directory/],
      [['--store', 'mysql://x/y', 'status'], {}, /postgres:\/\//],
    ];
    for (const [args, env, message] of cases) {
      const r = await kdelta(args, { env: { ...CLEAN, ...env }, cwd: dir });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('--help names --store, and start --help says it serves a store', async () => {
    expect(ok(await kdelta(['--help'])).stdout).toMatch(/--store <url>\s+use a PostgreSQL store instead of a directory/);
    expect(ok(await kdelta(['start', '--help'])).stdout.replace(/\s+/g, ' ')).toMatch(/or on a PostgreSQL store \(--store postgres:\/\/… \/ KORU_STORE/);
  });
});
