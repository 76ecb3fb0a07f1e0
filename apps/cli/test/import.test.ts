// kdelta import that forgives: re-imports skip what is stored, plain lines are writes,
// 1.0 database files come in with their history; bad input stores nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KoruDelta } from '@koru/delta';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDatabase, kdelta } from './run.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const FIXTURE = readFileSync(new URL('./fixtures/koru-1.0.db', import.meta.url), 'utf8');

const fresh = () => freshDatabase(cleanups, 'kdelta-import-');

const json = (s: string): unknown => JSON.parse(s);
const lines = (s: string): Array<Record<string, unknown>> => s.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

/** A database with some history and its export. */
async function dumped(): Promise<string> {
  const { k } = fresh();
  await k('set', 'users/alice', '{"n":1}');
  await k('set', 'users/alice', '{"n":2}');
  await k('set', 'users/bob', '"b"');
  await k('delete', 'users/bob');
  const dump = await k('export');
  expect(dump.code).toBe(0);
  return dump.stdout;
}

describe('kdelta import: exports and plain lines', () => {
  it('skips versions already stored when a dump is imported again, and says so', async () => {
    const dump = await dumped();
    const { k, kIn, dir } = fresh();
    const half = dump.split('\n').slice(0, 2).join('\n');
    expect((await kIn(half, 'import', '-')).stdout).toBe('imported 2 versions\n');
    writeFileSync(join(dir, 'dump.jsonl'), dump);
    const again = await k('import', 'dump.jsonl');
    expect(again).toMatchObject({ code: 0, stdout: 'imported 2 versions, skipped 2 already stored\n' });
    expect(json((await k('import', 'dump.jsonl', '--json')).stdout)).toEqual({ imported: 0, skipped: 4, written: 0 });
    expect((await k('export')).stdout).toBe(dump);
  });

  it('refuses a line with a stored version id but other content, storing nothing of the file', async () => {
    const dump = await dumped();
    const { k, kIn } = fresh();
    expect((await kIn(dump, 'import', '-')).code).toBe(0);
    const [first, second, ...rest] = dump.trim().split('\n');
    const damaged = [first, second!.replace('"n":2', '"n":3'), ...rest, '{"namespace":"users","key":"carol","value":1}'].join('\n');
    const r = await kIn(damaged, 'import', '-');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kdelta: - line 2: \(users\/alice\): value does not hash to valueId [0-9a-f]{64} \(INVALID_ARGUMENT\)/);
    expect(json((await k('list', 'users', '--json')).stdout)).toEqual(['alice']);
    expect(json((await k('status', '--json')).stdout)).toMatchObject({ versions: 4 });
  });

  it('writes plain {namespace, key, value} lines as new versions in file order, mixed with export lines', async () => {
    const dump = await dumped();
    const { k, kIn } = fresh();
    const plain = ['{"namespace":"users","key":"carol","value":{"n":1}}', '', '{"namespace":"users","key":"carol","value":{"n":2}}', '{"namespace":"users","key":"alice","value":{"n":3}}'];
    const r = await kIn(`${dump}${plain.join('\n')}\n`, 'import', '-', '--json');
    expect(json(r.stdout)).toEqual({ imported: 4, skipped: 0, written: 3 });
    expect(lines((await k('log', 'users/carol', '--json')).stdout).map((v) => v.value)).toEqual([{ n: 2 }, { n: 1 }]);
    // The plain write to alice follows the imported history.
    const alice = lines((await k('log', 'users/alice', '--json')).stdout);
    expect(alice.map((v) => v.value)).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);
    expect(alice[0]!.previousVersion).toBe(alice[1]!.versionId);
    expect((await kIn(plain[0]!, 'import', '-')).stdout).toBe('imported 0 versions, wrote 1 new versions from plain lines\n');
  });

  it('refuses bad input with a code, naming the line, and stores nothing', async () => {
    const { k, kIn } = fresh();
    const good = '{"namespace":"users","key":"a","value":1}';
    const cases: Array<[string, RegExp]> = [
      [`${good}\n${good}\nnot json`, /^kdelta: - line 3: not JSON .*\(INVALID_ARGUMENT\)/],
      [`${good}\n[1]`, /^kdelta: - line 2: not a JSON object.*\(INVALID_ARGUMENT\)/],
      [`${good}\n{"namespace":"_koru","key":"index:users:n","value":{}}`, /^kdelta: - line 2: namespace "_koru" .*reserved.*\(INVALID_NAMESPACE\)/],
      [`${good}\n{"namespace":"users","key":"b","valu":1}`, /^kdelta: - line 2: unknown field "valu".*\(INVALID_ARGUMENT\)/],
      [`${good}\n{"namespace":"users","key":"","value":1}`, /^kdelta: - line 2: .*\(INVALID_KEY\)/],
      [`${good}\n{"namespace":"users","key":"b","value":1,"versionId":"${'0'.repeat(64)}","previousVersion":null,"hlc":"001700000000000-000000","node":"n","deleted":false}`, /^kdelta: - line 2: \(users\/b\): versionId 0{64} does not match its content/],
      ['{\n  "namespace": "users",\n', /^kdelta: - line 1: not JSON/],
      [JSON.stringify({ namespace: 'users', key: 'a', value: 1 }, null, 2), /^kdelta: -: one JSON document that is not a 1\.0 database file/],
    ];
    for (const [input, message] of cases) {
      const r = await kIn(input, 'import', '-');
      expect(r.code, input).toBe(2);
      expect(r.stderr, input).toMatch(message);
    }
    expect(json((await k('status', '--json')).stdout)).toMatchObject({ versions: 0 });
  });
});

describe('kdelta import: a crafted file cannot poison the database', () => {
  it('refuses a view definition that would stop every later start, and a far-future clock; the database keeps opening', async () => {
    // Lines with valid ids, as a crafted file would carry them.
    const src = await KoruDelta.start();
    await src.storage.putSystem('view:bad', { name: 'bad', namespace: 'users', query: { filter: { x: { $bogus: 1 } } }, autoRefresh: true, createdAt: '2026-01-01T00:00:00.000Z', refreshedAt: '2026-01-01T00:00:00.000Z', seq: 0 });
    const poisoned = [...src.storage.committed()].map((v) => JSON.stringify(v)).join('\n');
    const future = await KoruDelta.start({ now: () => Date.UTC(9999, 11, 31) });
    await future.put('users', 'late', 1);
    const far = [...future.storage.committed()].map((v) => JSON.stringify(v)).join('\n');
    await src.close();
    await future.close();

    const { k, kIn } = fresh();
    const refused = await kIn(poisoned, 'import', '-');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/_koru\/view:bad.*reserved namespace _koru.*\$bogus.*\(INVALID_NAMESPACE\)/);
    const skewed = await kIn(far, 'import', '-');
    expect(skewed.code).toBe(2);
    expect(skewed.stderr).toMatch(/9999-12-31.*ahead of this node's clock.*\(CLOCK_SKEW\)/);
    // Every later start still opens, and writes carry today's date.
    expect((await k('set', 'users/a', '1')).code).toBe(0);
    const log = lines((await k('log', 'users/a', '--json')).stdout);
    expect(String(log[0]!.timestamp).slice(0, 4)).toBe(String(new Date().getUTCFullYear()));
    expect(json((await k('status', '--json')).stdout)).toMatchObject({ versions: 1 });
  });
});

describe('kdelta import: a 1.0 database file', () => {
  it("imports every key's history in order with its times, under new ids; again, it skips them all", async () => {
    const { k, dir } = fresh();
    writeFileSync(join(dir, 'old.db'), FIXTURE);
    const r = await k('import', 'old.db');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('imported 6 versions of 3 keys from a 1.0 database (version ids are new; timestamps kept, to the millisecond)\n');
    const alice = lines((await k('log', 'users/alice', '--json')).stdout).reverse();
    expect(alice.map((v) => [v.value, v.timestamp, v.node])).toEqual([
      [{ name: 'Alice', age: 30 }, '2025-11-24T10:00:00.123Z', 'koru-1.0'],
      [{ name: 'Alice', age: 31 }, '2025-11-24T10:00:00.123Z', 'koru-1.0'],
      [{ name: 'Alice', age: 30 }, '2025-11-25T08:30:00.000Z', 'koru-1.0'],
    ]);
    expect(alice[1]!.previousVersion).toBe(alice[0]!.versionId);
    expect(json((await k('get', 'users/bob', '--json')).stdout)).toBe('Bob');
    expect(lines((await k('log', 'users/bob', '--json')).stdout)[0]!.timestamp).toBe('2025-11-24T08:59:59.000Z');
    expect(json((await k('get', 'config/app:theme', '--json')).stdout)).toBeNull();
    // The two versions of one millisecond: each reachable by its hlc; the time gives the later.
    for (const v of alice) expect(json((await k('get', 'users/alice', '--at', v.hlc as string, '--json')).stdout)).toEqual(v.value);
    expect(json((await k('get', 'users/alice', '--at', '2025-11-24T10:00:00.123Z', '--json')).stdout)).toEqual({ name: 'Alice', age: 31 });
    expect(json((await k('import', 'old.db', '--json')).stdout)).toEqual({ imported: 0, skipped: 6, written: 0, v1: { keys: 3, timestampsMoved: 0 } });
    expect((await k('verify')).code).toBe(0);
    // Pretty-printed (one value over many lines), into another database: the same versions.
    writeFileSync(join(dir, 'pretty.db'), JSON.stringify(JSON.parse(FIXTURE), null, 2));
    const other = fresh();
    writeFileSync(join(other.dir, 'pretty.db'), JSON.stringify(JSON.parse(FIXTURE), null, 2));
    expect(json((await other.k('import', 'pretty.db', '--json')).stdout)).toMatchObject({ imported: 6 });
    expect((await other.k('export')).stdout).toBe((await k('export')).stdout);
  });

  it('refuses a malformed 1.0 file, naming where, and stores nothing', async () => {
    const { k, kIn } = fresh();
    const doc = JSON.parse(FIXTURE) as { history_log: Array<[unknown, Array<Record<string, unknown>>]>; current_state: unknown[] };
    doc.history_log[2]![1][1]!.timestamp = 'noon';
    const r = await kIn(JSON.stringify(doc), 'import', '-');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kdelta: - \(1\.0 database\): history_log\[2\] \(config:app:theme\) version 1: timestamp "noon" is not an RFC 3339 time/);
    doc.history_log[2]![1][1]!.timestamp = '2025-11-24T12:00:00Z';
    doc.current_state.pop();
    doc.history_log[0]![1].pop();
    const contradicted = await kIn(JSON.stringify(doc), 'import', '-');
    expect(contradicted.code).toBe(1);
    expect(contradicted.stderr).toMatch(/current_state\[0\] \(users:alice\): current_state holds version 5f1c0a .* history_log ends with 9b2e41 \(CORRUPTION\)/);
    expect((await kIn(`${FIXTURE}\n{"namespace":"a","key":"b","value":1}`, 'import', '-')).stderr).toMatch(/a 1\.0 database file is one JSON document, but more follows it/);
    expect(json((await k('status', '--json')).stdout)).toMatchObject({ versions: 0 });
  });
});
