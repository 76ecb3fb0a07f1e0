// kdelta end to end: the built binary, spawned with a fresh -d directory per test.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDatabase, kdelta, start } from './run.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const fresh = () => freshDatabase(cleanups);

const json = (s: string): unknown => JSON.parse(s);
const lines = (s: string): unknown[] => s.trim().split('\n').map((l) => JSON.parse(l));

describe('kdelta: writing and reading', () => {
  it('sets, gets, logs, diffs and deletes, persisting across invocations', async () => {
    const { k, kIn, dir } = fresh();
    const first = await k('set', 'users/alice', '{"name":"Alice","age":31}');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^set users\/alice {2}[0-9a-f]{12} {2}\d{4}-\d\d-\d\dT.*Z\n$/);
    writeFileSync(join(dir, 'alice.json'), '{"name":"Alice","age":32}');
    expect((await k('set', 'users/alice', '@alice.json')).code).toBe(0);
    expect((await kIn('"hi"', 'set', 'notes/greeting', '-')).code).toBe(0);

    expect(json((await k('get', 'users/alice', '--json')).stdout)).toEqual({ name: 'Alice', age: 32 });
    expect((await k('get', 'users/alice')).stdout).toBe('{\n  "age": 32,\n  "name": "Alice"\n}\n');
    expect(json((await k('get', 'notes/greeting', '--json')).stdout)).toBe('hi');
    const verbose = await k('get', 'users/alice', '-v');
    expect(verbose.stdout).toMatch(/^version {3}[0-9a-f]{64}\ntimestamp \d{4}-.*Z\nprevious {2}[0-9a-f]{64}\n/);
    const full = json((await k('get', 'users/alice', '-v', '--json')).stdout) as Record<string, unknown>;
    expect(Object.keys(full).sort()).toEqual(['deleted', 'hlc', 'key', 'namespace', 'node', 'previousVersion', 'timestamp', 'value', 'valueId', 'versionId']);
    const firstAt = json((await k('log', 'users/alice', '--json')).stdout.trim().split('\n')[1]!) as { timestamp: string };
    expect(json((await k('get', 'users/alice', '--at', firstAt.timestamp, '--json')).stdout)).toEqual({ name: 'Alice', age: 31 });

    const log = await k('log', 'users/alice');
    expect(log.stdout.trim().split('\n')).toHaveLength(2);
    expect(log.stdout.split('\n')[0]).toContain('"age":32'); // newest first
    expect(lines((await k('log', 'users/alice', '-l', '1', '--json')).stdout)).toHaveLength(1);

    const diff = await k('diff', 'users/alice');
    expect(diff.stdout).toContain('-  "age": 31,');
    expect(diff.stdout).toContain('+  "age": 32,');
    expect(diff.stdout).toMatch(/^--- users\/alice @ [0-9a-f]{12}/);
    const djson = json((await k('diff', 'users/alice', '--from', '0', '--to', '-1', '--json')).stdout) as { changes: unknown[] };
    expect(djson.changes).toEqual([{ kind: 'changed', path: '/age', before: 31, after: 32 }]);
    // --at T (as in 1.0): the version at T against the one before it; with --to, against that one.
    const atFirst = (await k('diff', 'users/alice', '--at', firstAt.timestamp)).stdout;
    expect(atFirst).toMatch(/^--- \(nothing\)\n/);
    expect(atFirst).toContain('+  "age": 31,');
    expect((await k('diff', 'users/alice', '--at', firstAt.timestamp, '--to', '-1')).stdout).toContain('+  "age": 32,');
    expect((await k('diff', 'users/alice', '--at', firstAt.timestamp, '--from', '0')).code).toBe(2);

    const del = await k('delete', 'users/alice', '--json');
    expect(json(del.stdout)).toMatchObject({ namespace: 'users', key: 'alice', deleted: true });
    expect((await k('get', 'users/alice')).code).toBe(1);
    expect(lines((await k('log', 'users/alice', '--json')).stdout)).toHaveLength(3); // history stays
  });

  it('lists, reports status and verifies', async () => {
    const { k, dir } = fresh();
    await k('set', 'users/a', '1');
    await k('set', 'users/b', '2');
    await k('set', 'orders/o1', '{"total":5}');
    expect((await k('list')).stdout).toBe('orders  1 key\nusers  2 keys\n');
    expect(json((await k('list', '--json')).stdout)).toEqual([{ namespace: 'orders', keys: 1 }, { namespace: 'users', keys: 2 }]);
    expect((await k('list', 'users')).stdout).toBe('a\nb\n');
    expect(json((await k('list', 'users', '--json')).stdout)).toEqual(['a', 'b']);
    const status = json((await k('status', '--json')).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ path: join(dir, 'db'), keys: 3, versions: 3, namespaces: 2, seq: 3, adapter: 'file' });
    expect(status.diskBytes).toBeGreaterThan(0);
    expect((await k('status')).stdout).toMatch(/^database {3}.*\nkeys {7}3\nversions {3}3\n/);
    expect((await k('verify')).stdout).toMatch(/^ok {2}3 keys, 3 versions/);
    expect(json((await k('verify', '--json')).stdout)).toMatchObject({ ok: true, problems: [] });
  });

  it('refuses a log cut short with CORRUPTION; `repair` keeps what precedes the cut and says what it dropped', async () => {
    const { k, dir } = fresh();
    for (let i = 0; i < 4; i++) expect((await k('set', `r/k${i}`, String(i))).code).toBe(0);
    // Each command leaves its few writes in a log of its own (replayed by the next): the last holds k3.
    const logs = readdirSync(join(dir, 'db')).filter((f) => f.endsWith('.kwal') && statSync(join(dir, 'db', f)).size > 16);
    const log = join(dir, 'db', logs.sort().at(-1)!);
    const full = readFileSync(log);
    writeFileSync(log, full.subarray(0, full.length - 5));
    const refused = await k('get', 'r/k0');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/CORRUPTION|damaged/);
    expect(refused.stderr).toContain(log);
    expect(refused.stderr).toMatch(/run `kdelta repair`/);
    const repaired = await k('repair');
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toMatch(/^dropped {2}log .* saved the damaged file as .*\.damaged-/);
    // Said once, on stdout: the start's own warning does not repeat it on stderr.
    expect(repaired.stderr).toBe('');
    expect((await k('repair')).stdout).toBe('ok  nothing was damaged\n');
    expect(json((await k('get', 'r/k2', '--json')).stdout)).toBe(2);
    expect((await k('get', 'r/k3')).code).toBe(1);
  });

  it('takes keys with /, : and unicode, and names from the environment', async () => {
    const { k, dir } = fresh();
    for (const key of ['a/b/c', 'x:y', 'ünï©ødé', '__proto__']) {
      expect((await k('set', `docs/${key}`, JSON.stringify({ key }))).code).toBe(0);
      expect(json((await k('get', `docs/${key}`, '--json')).stdout)).toEqual({ key });
    }
    expect(json((await k('list', 'docs', '--json')).stdout)).toEqual(['__proto__', 'a/b/c', 'x:y', 'ünï©ødé']);
    const viaEnv = await kdelta(['get', 'docs/x:y', '--json'], { env: { KORU_DB_PATH: join(dir, 'db') } });
    expect(json(viaEnv.stdout)).toEqual({ key: 'x:y' });
  });
});

describe('kdelta: errors and exit codes', () => {
  it('says what was wrong in one line, with exit 1 for not found and 2 for bad input', async () => {
    const { k } = fresh();
    const cases: Array<[string[], number, RegExp]> = [
      [['get', 'users/nobody'], 1, /^kdelta: users\/nobody not found \(KEY_NOT_FOUND\)\n$/],
      [['set', 'users/a', 'hello'], 2, /not valid JSON.*strings must be quoted JSON: '"hello"'/],
      [['set', 'users/a', '{"a":'], 2, /^kdelta: the value is not valid JSON/],
      [['set', 'nokey', '1'], 2, /expected NAMESPACE\/KEY \(e\.g\. users\/alice\), got "nokey"/],
      [['set', '_sys/k', '1'], 2, /reserved \(INVALID_NAMESPACE\)/],
      [['set', 'users/a', '@missing.json'], 2, /cannot read .*missing\.json: ENOENT/],
      [['frob'], 2, /^kdelta: unknown command 'frob'/],
      [['get'], 2, /missing required argument/],
      [['get', 'a/b', 'extra'], 2, /too many arguments/],
      [['log', 'users/a', '-l', 'x'], 2, /--limit must be a non-negative integer/],
      [['query', 'users', '--filter', 'age >'], 2, /^kdelta: --filter: expected a value after '>' at column 6 \(INVALID_QUERY\)\n$/],
      [['query', 'users', '--count', '--sum', 'x'], 2, /at most one of --count/],
      [['view', 'query', 'nope'], 1, /no view named "nope" \(VIEW_NOT_FOUND\)/],
      [['diff', 'users/nobody'], 1, /KEY_NOT_FOUND/],
      [['import', 'missing.jsonl'], 2, /cannot read missing\.jsonl: ENOENT/],
      [['watch', 'users', '--all'], 2, /give a namespace or ns\/key, or --all, not both/],
    ];
    for (const [args, code, stderr] of cases) {
      const r = await k(...args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(stderr);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    }
    // With --json the error is one JSON document on stdout.
    const r = await k('get', 'users/nobody', '--json');
    expect(r.code).toBe(1);
    expect(json(r.stdout)).toMatchObject({ error: { code: 'KEY_NOT_FOUND', message: 'users/nobody not found' } });
    expect((await k('status', '--json')).code).toBe(0); // nothing was stored by the failures
    expect(json((await k('status', '--json')).stdout)).toMatchObject({ versions: 0 });
  });

  it('refuses a second process while one holds the database, naming the holder', async () => {
    const { k, dir } = fresh();
    await k('set', 'users/a', '1');
    const holder = start(['-d', join(dir, 'db'), 'watch', 'users'], { cwd: dir });
    try {
      // Wait until the watcher holds the lock (a get racing it could take the lock first).
      const lockHolder = (): unknown => {
        try {
          return (JSON.parse(readFileSync(join(dir, 'db', 'LOCK'), 'utf8')) as { pid: number }).pid;
        } catch {
          return undefined;
        }
      };
      for (let i = 0; i < 200 && lockHolder() !== holder.pid && holder.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
      expect(lockHolder()).toBe(holder.pid);
      const locked = await k('get', 'users/a');
      expect(locked.code).toBe(1);
      expect(locked.stderr).toContain('DATABASE_LOCKED');
      expect(locked.stderr).toContain(`process ${holder.pid}`);
      expect(locked.stderr).toMatch(/stop the process holding it/);
    } finally {
      if (holder.exitCode === null) {
        const closed = new Promise((r) => holder.once('exit', r));
        holder.kill('SIGINT');
        await closed;
      }
    }
    expect(holder.exitCode).toBe(0); // Ctrl-C closes it cleanly
    expect((await k('get', 'users/a')).code).toBe(0);
  });
});

describe('kdelta: queries, views and indexes', () => {
  it('filters, sorts, pages, projects and aggregates', async () => {
    const { k, kIn } = fresh();
    const people = [
      ['alice', { name: 'Alice', age: 31, city: 'Oslo', tags: ['admin'] }],
      ['bob', { name: 'Bob', age: 25, city: 'Rome', tags: [] }],
      ['carol', { name: 'Carol', age: 42, city: 'Oslo', email: 'c@x.org', tags: ['x'] }],
      ['dave', { name: 'Dave', age: 35, city: 'Lima', tags: ['admin'] }],
    ] as const;
    for (const [key, v] of people) await k('set', `users/${key}`, JSON.stringify(v));
    const q = async (...args: string[]) => json((await k('query', 'users', ...args, '--json')).stdout) as { rows: Array<{ key: string; value: unknown }>; total: number };
    expect((await q('--filter', 'age > 30', '--sort', 'name:desc')).rows.map((r) => r.key)).toEqual(['dave', 'carol', 'alice']);
    expect((await q('--filter', 'city = "Oslo" and not email exists')).rows.map((r) => r.key)).toEqual(['alice']);
    expect((await q('--filter', 'name ~ "^[AB]" or tags contains "x"', '--sort', 'age')).rows.map((r) => r.key)).toEqual(['bob', 'alice', 'carol']);
    expect((await q('--filter', "city in ['Lima', 'Rome']", '--sort', 'city', '--sort', 'age:desc')).rows.map((r) => r.key)).toEqual(['dave', 'bob']);
    const page = await q('--sort', 'age', '--offset', '1', '--limit', '2', '--select', 'name');
    expect(page).toMatchObject({ total: 4, rows: [{ key: 'alice', value: { name: 'Alice' } }, { key: 'dave', value: { name: 'Dave' } }] });
    const agg = async (...args: string[]) => json((await k('query', 'users', ...args, '--json')).stdout);
    expect(await agg('--count')).toBe(4);
    expect(await agg('--filter', 'city = "Oslo"', '--sum', 'age')).toBe(73);
    expect(await agg('--avg', 'age')).toBe(33.25);
    expect(await agg('--min', 'age')).toBe(25);
    expect(await agg('--max', 'name')).toBe('Dave');
    expect(await agg('--distinct', 'city')).toEqual(['Lima', 'Oslo', 'Rome']);
    expect(await agg('--group-by', 'city')).toEqual([{ group: 'Lima', value: 1 }, { group: 'Oslo', value: 2 }, { group: 'Rome', value: 1 }]);
    expect(await agg('--group-by', 'city', '--max', 'age')).toEqual([{ group: 'Lima', value: 35 }, { group: 'Oslo', value: 42 }, { group: 'Rome', value: 25 }]);
    const human = await k('query', 'users', '--filter', 'age >= 35', '--sort', 'age');
    expect(human.stdout).toBe('dave  {"age":35,"city":"Lima","name":"Dave","tags":["admin"]}\ncarol  {"age":42,"city":"Oslo","email":"c@x.org","name":"Carol","tags":["x"]}\n2 of 2 matching (scan, 4 examined)\n');
    // Time travel: before bob was changed (dave was the last write then).
    const before = (json((await k('get', 'users/dave', '-v', '--json')).stdout) as { timestamp: string }).timestamp;
    await kIn('{"name":"Bob","age":60,"city":"Rome","tags":[]}', 'set', 'users/bob', '-');
    expect(await agg('--max', 'age')).toBe(60);
    expect(json((await k('query', 'users', '--max', 'age', '--at', before, '--json')).stdout)).toBe(42);
  });

  it('creates, lists, refreshes, queries and deletes views; indexes narrow queries', async () => {
    const { k } = fresh();
    for (let i = 0; i < 20; i++) await k('set', `items/i${i}`, JSON.stringify({ n: i, kind: i % 2 ? 'odd' : 'even' }));
    expect((await k('view', 'create', 'big', 'items', '--filter', 'n >= 15', '--sort', 'n:desc', '--description', 'the big ones')).code).toBe(0);
    expect((await k('view', 'create', 'odd-count', 'items', '--filter', 'kind = "odd"', '--count', '--auto-refresh')).code).toBe(0);
    expect((await k('view', 'create', 'big', 'items')).stderr).toMatch(/exists already \(VIEW_EXISTS\)/);
    const listed = json((await k('view', 'list', '--json')).stdout) as Array<{ name: string; autoRefresh: boolean }>;
    expect(listed.map((v) => [v.name, v.autoRefresh])).toEqual([['big', false], ['odd-count', true]]);
    await k('set', 'items/i99', '{"n":99,"kind":"odd"}');
    const big = json((await k('view', 'query', 'big', '--json')).stdout) as { rows: Array<{ key: string }>; refreshedAt: string; seq: number };
    expect(big.rows.map((r) => r.key)).toEqual(['i19', 'i18', 'i17', 'i16', 'i15']); // manual: stale
    expect(json((await k('view', 'query', 'odd-count', '--json')).stdout)).toMatchObject({ aggregate: 11 }); // auto: current
    expect(((json((await k('view', 'refresh', 'big', '--json')).stdout)) as { rows: Array<{ key: string }> }).rows[0]!.key).toBe('i99');
    expect((await k('view', 'query', 'big')).stdout).toMatch(/^i99 {2}\{"kind":"odd","n":99\}\n/);
    expect((await k('view', 'delete', 'big')).code).toBe(0);
    expect((await k('view', 'query', 'big')).code).toBe(1);

    expect(json((await k('index', 'create', 'items', 'kind', '--json')).stdout)).toMatchObject({ namespace: 'items', field: 'kind' });
    expect(json((await k('index', 'list', '--json')).stdout)).toMatchObject([{ namespace: 'items', field: 'kind' }]);
    const viaIndex = json((await k('query', 'items', '--filter', 'kind = "even"', '--json')).stdout) as { explain: unknown; total: number };
    expect(viaIndex).toMatchObject({ total: 10, explain: { strategy: 'index', indexes: ['kind'], examined: 10 } });
    expect((await k('index', 'drop', 'items', 'kind')).code).toBe(0);
    expect((await k('index', 'drop', 'items', 'kind')).stderr).toMatch(/INDEX_NOT_FOUND/);
  });
});

describe('kdelta: export, import and watch', () => {
  it('round-trips a database through export and import with identical ids and timestamps', async () => {
    const src = fresh();
    await src.k('set', 'users/alice', '{"n":1}');
    await src.k('set', 'users/alice', '{"n":2}');
    await src.k('set', 'users/bob', '"b"');
    await src.k('delete', 'users/bob');
    await src.k('view', 'create', 'all', 'users');
    await src.k('index', 'create', 'users', 'n');
    const dump = await src.k('export');
    expect(dump.code).toBe(0);
    expect(dump.stdout.trim().split('\n')).toHaveLength(6);
    const dst = fresh();
    const imported = await dst.kIn(dump.stdout, 'import', '-', '--json');
    expect(json(imported.stdout)).toEqual({ imported: 6, skipped: 0, written: 0 });
    for (const key of ['users/alice', 'users/bob']) {
      expect((await dst.k('log', key, '--json')).stdout).toBe((await src.k('log', key, '--json')).stdout);
    }
    expect((await dst.k('export')).stdout).toBe(dump.stdout);
    expect(json((await dst.k('view', 'query', 'all', '--json')).stdout)).toEqual(json((await src.k('view', 'query', 'all', '--json')).stdout));
    // One namespace to a file, then into a third database from that file.
    expect((await src.k('export', 'users', '-o', 'users.jsonl')).stdout).toBe('exported 4 versions to users.jsonl\n');
    const third = fresh();
    writeFileSync(join(third.dir, 'users.jsonl'), readFileSync(join(src.dir, 'users.jsonl')));
    expect((await third.k('import', 'users.jsonl')).stdout).toBe('imported 4 versions\n');
    // A damaged line is refused, naming it.
    const bad = dump.stdout.replace('"n":2', '"n":3');
    const refused = await fresh().kIn(bad, 'import', '-');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^kdelta: - line 2: \(users\/alice\): value does not hash to valueId/);
  });

  it('watch replays changes since a seq and stops when caught up with --exit', async () => {
    const { k } = fresh();
    await k('set', 'users/a', '1');
    await k('set', 'other/x', '1');
    await k('set', 'users/a', '2');
    await k('delete', 'users/a');
    const all = await k('watch', '--all', '--since', '0', '--exit', '--json');
    expect(lines(all.stdout).map((e) => (e as { seq: number }).seq)).toEqual([1, 2, 3, 4]);
    const users = await k('watch', 'users', '--since', '1', '--exit');
    expect(users.stdout).toBe('3  update  users/a  2\n4  delete  users/a\n');
    const key = await k('watch', 'users/a', '--since', '0', '--exit', '--filter', '. exists');
    expect(key.code).toBe(2); // not a valid field path
    expect((await k('watch', 'users/a', '--since', '0', '--exit', '--json')).stdout.trim().split('\n')).toHaveLength(3);
    expect((await k('watch', 'users', '--exit')).stdout).toBe(''); // nothing to replay: returns at once
  });
});

describe('kdelta start', () => {
  it('serves the database until SIGTERM, then exits 0 with everything written', async () => {
    const { k, dir } = fresh();
    await k('set', 'users/alice', '{"n":1}');
    const { url, stop } = await serving(dir);
    expect(await (await fetch(`${url}/v1/kv/users/alice`)).json()).toEqual({ n: 1 });
    expect((await fetch(`${url}/v1/kv/users/bob`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"n":2}' })).status).toBe(200);
    expect(await stop()).toBe(0);
    expect(json((await k('get', 'users/bob', '--json')).stdout)).toEqual({ n: 2 });
  });

  it('refuses bad cluster flags with a usage error, and a database no cluster member serves has no peers', async () => {
    const { k } = fresh();
    for (const [args, message] of [
      [['start', '--join', 'no/where'], /"no\/where" is not HOST or HOST:PORT/],
      [['start', '--advertise', 'a:b:c'], /"a:b:c" is not HOST or HOST:PORT/],
      [['set', 'users/x', '1', '--ack', 'most'], /--ack must be local, quorum or all, not "most"/],
      [['delete', 'users/x', '--ack', ''], /--ack must be local, quorum or all/],
    ] as const) {
      const r = await k(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    // --ack local on its own is a plain write.
    expect((await k('set', 'users/x', '1', '--ack', 'local')).code).toBe(0);
    // On a database of its own, ack quorum is met by this node alone (a cluster of one).
    expect((await k('set', 'users/x', '2', '--ack', 'quorum')).code).toBe(0);
    const peers = await k('peers', '--json');
    expect(peers.code).toBe(0);
    expect(json(peers.stdout)).toMatchObject({ address: null, peers: [] });
    expect((await k('peers')).stdout).toMatch(/not served by a cluster member/);
  });
});

/** Starts `kdelta start` on `dir`/db (port 0) and resolves with its URL; the test kills it. */
async function serving(dir: string, ...extra: string[]): Promise<{ url: string; stop: () => Promise<unknown> }> {
  const server = start(['-d', join(dir, 'db'), 'start', '--port', '0', ...extra], { cwd: dir });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /at (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const stop = async (): Promise<unknown> => {
    if (server.exitCode !== null) return server.exitCode;
    server.kill('SIGTERM');
    const code = await new Promise((r) => server.once('exit', r));
    return code;
  };
  cleanups.push(() => void stop());
  return { url, stop };
}

describe('kdelta against a server', () => {
  it('runs every kind of command with --url (or KORU_URL), and watch streams live changes', async () => {
    const { k, dir } = fresh();
    const { url, stop } = await serving(dir);
    const r = (...args: string[]) => kdelta(['--url', url, ...args], { cwd: dir });
    expect((await r('set', 'users/alice', '{"n":1,"city":"Oslo"}')).code).toBe(0);
    expect((await r('set', 'users/a/b:c ü', '"odd key"')).code).toBe(0);
    expect(json((await r('get', 'users/a/b:c ü', '--json')).stdout)).toBe('odd key');
    await r('set', 'users/alice', '{"n":2,"city":"Oslo"}');
    expect(lines((await r('log', 'users/alice', '--json')).stdout)).toHaveLength(2);
    expect((await r('diff', 'users/alice')).stdout).toContain('+  "n": 2');
    expect(json((await r('query', 'users', '--filter', 'n >= 2', '--json')).stdout)).toMatchObject({ total: 1 });
    expect(json((await kdelta(['query', 'users', '--count', '--json'], { cwd: dir, env: { KORU_URL: url } })).stdout)).toBe(2);
    expect((await r('index', 'create', 'users', 'city')).code).toBe(0);
    expect((await r('view', 'create', 'oslo', 'users', '--filter', 'city = "Oslo"', '--auto-refresh')).code).toBe(0);
    expect(json((await r('view', 'query', 'oslo', '--json')).stdout)).toMatchObject({ total: 1 });
    expect(json((await r('status', '--json')).stdout)).toMatchObject({ url, keys: 2 });
    expect((await r('get', 'users/nobody')).stderr).toMatch(/users\/nobody not found \(KEY_NOT_FOUND\)/);
    // Export through the server, import into a fresh local database: the three versions
    // and, as a local export has them, the index and view definitions.
    const dump = await r('export');
    expect(lines(dump.stdout).map((v) => (v as { namespace: string }).namespace)).toEqual(['users', 'users', 'users', '_koru', '_koru']);
    const copy = fresh();
    expect(json((await copy.kIn(dump.stdout, 'import', '-', '--json')).stdout)).toEqual({ imported: 5, skipped: 0, written: 0 });
    expect(json((await copy.k('index', 'list', '--json')).stdout)).toMatchObject([{ namespace: 'users', field: 'city' }]);
    // watch: one line per event as it commits.
    const watcher = start(['--url', url, 'watch', 'users', '--json'], { cwd: dir });
    let out = '';
    watcher.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    await new Promise((res) => setTimeout(res, 500));
    await r('set', 'users/bob', '{"n":3}');
    await r('delete', 'users/bob');
    for (let i = 0; i < 100 && out.trim().split('\n').length < 2; i++) await new Promise((res) => setTimeout(res, 50));
    watcher.kill('SIGINT');
    expect(await new Promise((res) => watcher.once('exit', res))).toBe(0);
    expect(lines(out).map((e) => (e as { changeType: string; key: string }).changeType)).toEqual(['insert', 'delete']);
    expect(await stop()).toBe(0);
    expect((await r('get', 'users/alice')).stderr).toMatch(/cannot connect .*\(IO_ERROR\)/);
    expect(json((await k('get', 'users/alice', '--json')).stdout)).toEqual({ n: 2, city: 'Oslo' }); // all on disk
  });

  it('goes through the server that holds the local directory, with its token', async () => {
    const { k, dir } = fresh();
    await k('set', 'users/alice', '1');
    await serving(dir, '--token', 'tok');
    const locked = await k('get', 'users/alice');
    expect(locked.code).toBe(2);
    expect(locked.stderr).toMatch(/served by http:\/\/127\.0\.0\.1:\d+, which needs a token: give --token or KORU_TOKEN/);
    expect(json((await kdelta(['-d', join(dir, 'db'), 'get', 'users/alice', '--json'], { cwd: dir, env: { KORU_TOKEN: 'tok' } })).stdout)).toBe(1);
    expect((await kdelta(['-d', join(dir, 'db'), '--token', 'tok', 'set', 'users/bob', '2'], { cwd: dir })).code).toBe(0);
    const wrong = await kdelta(['-d', join(dir, 'db'), '--token', 'nope', 'get', 'users/alice'], { cwd: dir });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/UNAUTHORIZED/);
  });
});

describe('kdelta: help and version', () => {
  it('prints help with examples for every command, and the version', async () => {
    const top = await kdelta(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['set', 'get', 'log', 'diff', 'delete', 'list', 'status', 'verify', 'query', 'view', 'index', 'export', 'import', 'watch']) {
      expect(top.stdout).toContain(`  ${cmd} `);
    }
    for (const cmd of [['set'], ['get'], ['query'], ['view', 'create'], ['watch'], ['import']]) {
      const h = await kdelta([...cmd, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/Examples:\n {2}\$ kdelta /);
    }
    expect((await kdelta(['query', '--help'])).stdout).toContain('Filter expressions:');
    const v = await kdelta(['--version']);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const none = await kdelta([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: kdelta');
  });
});
