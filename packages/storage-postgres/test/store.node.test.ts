// The PostgreSQL store against a real PostgreSQL: writes from several stores (servers)
// on one database, compare-and-set across them, imports, the change feed, and what a
// store does while PostgreSQL is down.
import { subscribe, type ChangeEvent } from '@koru/query';
import { valueIdOfCanonical, versionIdOf, canonicalize } from '@koru/engine';
import type { Version } from '@koru/storage';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../src/index.js';
import { pgTool, rejectionCode, usePostgres } from './support.js';

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!pgTool.available)('PostgreSQL store', () => {
  const pgs = usePostgres();

  it('makes versions as the embedded engine does: content ids, chained, readable back', async () => {
    const s = await pgs.open(await pgs.fresh());
    const v1 = await s.put('users', 'alice', { name: 'Alice', age: 31 });
    const v2 = await s.put('users', 'alice', { age: 32, name: 'Alice' });
    expect(v1.valueId).toBe(valueIdOfCanonical(canonicalize({ name: 'Alice', age: 31 }).text));
    for (const v of [v1, v2]) {
      expect(v.versionId).toBe(versionIdOf({ namespace: v.namespace, key: v.key, valueId: v.valueId, previousVersion: v.previousVersion, hlc: v.hlc, node: v.node, deleted: v.deleted }));
    }
    expect(v2.previousVersion).toBe(v1.versionId);
    expect(v2.hlc > v1.hlc).toBe(true);
    expect(await s.get('users', 'alice')).toEqual({ age: 32, name: 'Alice' });
    expect(await s.history('users', 'alice')).toEqual([v1, v2]);
    expect(await s.history('users', 'alice', { limit: 1 })).toEqual([v2]);
    expect(await s.getAt('users', 'alice', { wall: Number(v1.hlc.slice(0, 15)), logical: Number(v1.hlc.slice(16)) })).toEqual(v1);
    const gone = await s.delete('users', 'alice');
    expect(gone.deleted).toBe(true);
    expect(await rejectionCode(s.get('users', 'alice'))).toBe('KEY_NOT_FOUND');
    expect(await rejectionCode(s.delete('users', 'alice'))).toBe('KEY_NOT_FOUND');
    expect(await s.contains('users', 'alice')).toBe(false);
    expect((await s.history('users', 'alice')).map((v) => v.versionId)).toEqual([v1.versionId, v2.versionId, gone.versionId]);
    expect(await s.countKeys('users')).toBe(0);
    expect(await s.listNamespaces()).toEqual([]);
    expect((await s.verify()).ok).toBe(true);
  });

  it('keeps a value jsonb cannot hold (U+0000) exactly, and refuses bad input with nothing stored', async () => {
    const s = await pgs.open(await pgs.fresh(), { maxValueBytes: 1_000 });
    await s.put('t', 'nul', { s: 'a\u0000b' });
    expect(await s.get('t', 'nul')).toEqual({ s: 'a\u0000b' });
    expect(await rejectionCode(s.put('t', 'big', 'x'.repeat(2_000)))).toBe('VALUE_TOO_LARGE');
    expect(await rejectionCode(s.put('_koru', 'k', 1))).toBe('INVALID_NAMESPACE');
    expect(await rejectionCode(s.put('t', '', 1))).toBe('INVALID_KEY');
    expect(await rejectionCode(s.put('t', 'k', () => 1))).toBe('INVALID_VALUE');
    expect(await rejectionCode(s.listKeys('t', { limit: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await rejectionCode(s.listKeys('t', { nope: 1 } as never))).toBe('INVALID_ARGUMENT');
    expect((await s.stats()).versions).toBe(1);
  });

  it('answers compare-and-set across servers: of two writers on one head exactly one wins', async () => {
    const url = await pgs.fresh();
    const [a, b] = [await pgs.open(url), await pgs.open(url)];
    // New keys, created by both at once: one creation each.
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const created = await Promise.allSettled(keys.flatMap((k) => [a.put('cas', k, 'a', { ifVersion: null }), b.put('cas', k, 'b', { ifVersion: null })]));
    for (let i = 0; i < keys.length; i++) {
      const pair = [created[2 * i]!, created[2 * i + 1]!];
      expect(pair.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((pair.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.code).toBe('VERSION_CONFLICT');
    }
    // Read-modify-write loops on one hot key through both: no update lost.
    await a.put('cas', 'counter', 0);
    let conflicts = 0;
    const bump = async (s: typeof a, times: number): Promise<void> => {
      for (let done = 0; done < times; ) {
        const v = await s.getVersion('cas', 'counter');
        try {
          await s.put('cas', 'counter', (v.value as number) + 1, { ifVersion: v.versionId });
          done++;
        } catch (e) {
          if ((e as { code?: string }).code !== 'VERSION_CONFLICT') throw e;
          conflicts++;
        }
      }
    };
    await Promise.all([bump(a, 60), bump(b, 60), bump(a, 60), bump(b, 60)]);
    expect(await a.get('cas', 'counter')).toBe(240);
    const history = await b.history('cas', 'counter');
    expect(history).toHaveLength(241);
    for (let i = 1; i < history.length; i++) expect(history[i]!.previousVersion).toBe(history[i - 1]!.versionId);
    expect(conflicts).toBeGreaterThan(0); // the loops did meet
    expect((await a.verify()).ok).toBe(true);
  });

  it('writes on a head another server moved: re-made on the real head, never a broken chain', async () => {
    const url = await pgs.fresh();
    const [a, b] = [await pgs.open(url), await pgs.open(url)];
    const first = await a.put('h', 'k', 1);
    const second = await b.put('h', 'k', 2); // a still believes `first` is the head
    const third = await a.put('h', 'k', 3);
    expect(third.previousVersion).toBe(second.versionId);
    // A compare-and-set on the real head succeeds though a's belief is older.
    const fourth = await b.put('h', 'k', 4);
    const fifth = await a.put('h', 'k', 5, { ifVersion: fourth.versionId });
    expect(fifth.previousVersion).toBe(fourth.versionId);
    // And one on an old head is refused, naming the real one.
    const e = await a.put('h', 'k', 6, { ifVersion: first.versionId }).catch((err: unknown) => err as { code: string; details: Record<string, unknown> });
    expect((e as { code: string }).code).toBe('VERSION_CONFLICT');
    // A delete another server made is seen: deleting again is KEY_NOT_FOUND, writing again an insert.
    await b.delete('h', 'k');
    expect(await rejectionCode(a.delete('h', 'k'))).toBe('KEY_NOT_FOUND');
    expect((await a.put('h', 'k', 7, { ifVersion: null })).previousVersion).not.toBeNull();
    expect((await b.verify()).ok).toBe(true);
  });

  it('stores a putMany whole or not at all', async () => {
    const s = await pgs.open(await pgs.fresh());
    const v = await s.put('m', 'a', 1);
    expect(await rejectionCode(s.putMany([{ namespace: 'm', key: 'b', value: 1 }, { namespace: 'm', key: 'a', value: 2, ifVersion: null }]))).toBe('VERSION_CONFLICT');
    expect(await s.contains('m', 'b')).toBe(false);
    const many = await s.putMany([
      { namespace: 'm', key: 'a', value: 2, ifVersion: v.versionId },
      { namespace: 'm', key: 'a', value: 3 },
      { namespace: 'm', key: 'c', value: 4 },
    ]);
    expect(many[1]!.previousVersion).toBe(many[0]!.versionId);
    expect(await s.get('m', 'a')).toBe(3);
    expect(await s.listKeys('m')).toEqual(['a', 'c']);
  });

  it('imports versions made elsewhere unchanged, skips those it has, and refuses one that does not chain', async () => {
    const a = await pgs.open(await pgs.fresh());
    for (let i = 0; i < 5; i++) await a.put('n', `k${i % 2}`, { i });
    await a.delete('n', 'k0');
    const exported: Version[] = [];
    for await (const { version } of a.committed()) exported.push(version);
    const b = await pgs.open(await pgs.fresh());
    expect(await b.importVersions(exported)).toBe(6);
    expect(await b.importVersions(exported)).toBe(0);
    expect((await b.history('n', 'k1')).map((v) => v.versionId)).toEqual((await a.history('n', 'k1')).map((v) => v.versionId));
    expect((await b.verify()).ok).toBe(true);
    const c = await pgs.open(await pgs.fresh());
    expect(await rejectionCode(c.importVersions([exported[2]!]))).toBe('INVALID_ARGUMENT');
    const forged = { ...exported[0]!, value: { i: 99 } };
    expect(await rejectionCode(c.importVersions([forged]))).toBe('INVALID_ARGUMENT');
    expect((await c.stats()).versions).toBe(0);
  });

  it("gives a subscriber on one server every server's changes, in seq order, and replays from any seq", async () => {
    const url = await pgs.fresh();
    const [a, b] = [await pgs.open(url), await pgs.open(url)];
    const seen: ChangeEvent[] = [];
    const sub = subscribe(b.changeSource, { namespace: 'feed' }, (e) => void (e.type === 'change' && seen.push(e)));
    const writes = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).put('feed', `k${i % 7}`, { i })));
    await until(() => seen.length === 50);
    expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(seen.map((e) => e.versionId))).toEqual(new Set(writes.map((v) => v.versionId)));
    const firstOfK0 = seen.find((e) => e.key === 'k0')!;
    expect(firstOfK0.changeType).toBe('insert');
    const secondOfK0 = seen.filter((e) => e.key === 'k0')[1]!;
    expect(secondOfK0.changeType).toBe('update');
    expect(secondOfK0.previousValue).toEqual(firstOfK0.value);
    sub.unsubscribe();
    // A replay from further back than the window (4,096 changes): read a page at a time.
    await a.putMany(Array.from({ length: 5_000 }, (_, i) => ({ namespace: 'bulk', key: `b${i}`, value: i })));
    await until(() => b.seq >= 5_050);
    const replayed: number[] = [];
    const sub2 = subscribe(b.changeSource, { since: 0, until: 5_050 }, (e) => void (e.type === 'change' && replayed.push(e.seq)));
    await sub2.done;
    expect(replayed).toEqual(Array.from({ length: 5_050 }, (_, i) => i + 1));
  }, 60_000);

  it('answers UNAVAILABLE while PostgreSQL is down, and recovers on its own, feed included', async () => {
    const url = await pgs.fresh();
    const s = await pgs.open(url, { connectTimeoutMs: 1_000 });
    await s.put('u', 'k', 1);
    const seen: number[] = [];
    const sub = subscribe(s.changeSource, { namespace: 'u' }, (e) => void (e.type === 'change' && seen.push(e.seq)));
    await pgs.server().kill();
    const t = Date.now();
    expect(await rejectionCode(s.put('u', 'k', 2))).toBe('UNAVAILABLE');
    expect(await rejectionCode(s.get('u', 'k'))).toBe('UNAVAILABLE');
    expect(Date.now() - t).toBeLessThan(15_000);
    await pgs.server().restart();
    let back = false;
    await until(async () => {
      try {
        await s.put('u', 'k', 3);
        back = true;
      } catch (e) {
        if ((e as { code?: string }).code !== 'UNAVAILABLE') throw e;
      }
      return back;
    }, 20_000);
    expect(await s.get('u', 'k')).toBe(3);
    await until(() => seen.length > 0, 10_000);
    sub.unsubscribe();
    expect((await s.verify()).ok).toBe(true);
  }, 60_000);

  it('gives up on a write blocked by a lock held elsewhere (UNAVAILABLE, nothing stored), while reads go on', async () => {
    const url = await pgs.fresh();
    const s = await pgs.open(url, { statementTimeoutMs: 500 });
    await s.put('lock', 'k', 1);
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM koru_heads WHERE ns = 'lock' AND key = 'k' FOR UPDATE");
      const write = s.put('lock', 'k', 2);
      expect(await s.get('lock', 'k')).toBe(1); // MVCC: a read is not blocked
      const t = Date.now();
      expect(await rejectionCode(write)).toBe('UNAVAILABLE');
      expect(Date.now() - t).toBeLessThan(5_000);
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    expect(await s.history('lock', 'k')).toHaveLength(1);
    await s.put('lock', 'k', 3);
    expect(await s.get('lock', 'k')).toBe(3);
  });

  it('verify reports damage to a value, a version, a chain or a head as damage', async () => {
    const url = await pgs.fresh();
    const s = await pgs.open(url);
    await s.put('v', 'a', { n: 1 });
    const a2 = await s.put('v', 'a', { n: 2 });
    const b = await s.put('v', 'b', { n: 3 });
    expect((await s.verify()).ok).toBe(true);
    const damage = async (sql: string): Promise<string[]> => {
      await s.run('damaging', sql);
      return (await s.verify()).problems.map((p) => p.problem);
    };
    // A get reads the head's copy: a changed copy is found.
    expect(await damage(`UPDATE koru_heads SET body = '{"n":4}' WHERE key = 'b'`)).toEqual(["the head's copy of the value does not hash to its id"]);
    await s.run('repairing', `UPDATE koru_heads SET body = '{"n":3}' WHERE key = 'b'`);
    expect(await damage(`UPDATE koru_values SET body = '{"n":5}' WHERE value_id = '${b.valueId}'`)).toEqual([`value ${b.valueId} does not hash to its id`]);
    await s.run('repairing', `UPDATE koru_values SET body = '{"n":3}' WHERE value_id = '${b.valueId}'`);
    expect((await damage(`UPDATE koru_versions SET node = 'ffffffffffffffff' WHERE version_id = '${a2.versionId}'`))).toEqual(['its fields do not hash to its versionId']);
  });

  it('migrates once however many servers open at once, and refuses a schema newer than it knows', async () => {
    const url = await pgs.fresh();
    const stores = await Promise.all([pgs.open(url), pgs.open(url), pgs.open(url)]);
    expect(stores.map((s) => s.seq)).toEqual([0, 0, 0]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect((await client.query('SELECT version FROM koru_schema ORDER BY version')).rows).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
      await client.query('INSERT INTO koru_schema (version) VALUES ($1)', [SCHEMA_VERSION + 1]);
    } finally {
      await client.end();
    }
    expect(await rejectionCode(pgs.open(url))).toBe('CORRUPTION');
  });

  it('refuses a URL that is not PostgreSQL, and an unknown option', async () => {
    expect(await rejectionCode(pgs.open('mysql://x'))).toBe('INVALID_ARGUMENT');
    expect(await rejectionCode(pgs.open(await pgs.fresh(), { nope: 1 } as never))).toBe('INVALID_ARGUMENT');
    expect(await rejectionCode(pgs.open('postgres://koru@127.0.0.1:1/none', { connectTimeoutMs: 500 }))).toBe('UNAVAILABLE');
  });
});
