// The conformance suite's writes and reads of single keys: put, get, history, time
// travel, diff, delete, compare-and-set, putMany, listings, verify and stats (see
// ./delta-conformance.ts).
import { expect, it } from 'vitest';
import { valueIdOfCanonical } from '@koru/engine';
import { diffValues, type JsonValue, type Version } from '@koru/delta';
import { expectIntactChain, expectKoruError } from './support.js';
import { expectContentAddressed, sleep, utf8Sorted, type ConformanceContext } from './delta-conformance-support.js';

/** Registers the tests of single keys: writes, reads, history, time travel, listings, verify and stats. */
export function coreConformance(ctx: ConformanceContext): void {
  it('put, get and getVersion: ids are the content addresses, writes chain', async () => {
    const db = ctx.db();
    const value = { b: [1, 2.5, 'x', { z: null }], a: { d: null, c: true }, s: 'é"\n\u2028 😀' };
    const v1 = await db.put('users', 'alice', value);
    expect(Object.keys(v1).sort()).toEqual(['deleted', 'hlc', 'key', 'namespace', 'node', 'previousVersion', 'timestamp', 'value', 'valueId', 'versionId']);
    expect(v1).toMatchObject({ namespace: 'users', key: 'alice', value, previousVersion: null, deleted: false, node: db.nodeId });
    expect(v1.valueId).toBe(valueIdOfCanonical('{"a":{"c":true,"d":null},"b":[1,2.5,"x",{"z":null}],"s":"é\\"\\n\u2028 😀"}'));
    expectContentAddressed(v1);
    expect(Number(v1.hlc.slice(0, 15))).toBe(Date.parse(v1.timestamp));
    expect(await db.get('users', 'alice')).toEqual(value);
    expect(await db.getVersion('users', 'alice')).toEqual(v1);

    const v2 = await db.put('users', 'alice', 42);
    const v3 = await db.put('users', 'alice', 42);
    expect(v2.previousVersion).toBe(v1.versionId);
    expect(v3.previousVersion).toBe(v2.versionId);
    expect(v3.valueId).toBe(v2.valueId);
    expect(v3.versionId).not.toBe(v2.versionId);
    expect(v2.hlc < v3.hlc).toBe(true);
    for (const v of [v2, v3]) expectContentAddressed(v);
    expect(await db.getVersion('users', 'alice')).toEqual(v3);

    // Every JSON type, and the same value under two keys (stored once: one valueId).
    const values: JsonValue[] = [null, true, false, 0, -1.5, 1e300, 1e21, -0, '', 'text ✓ 😀', [], {}, [1, [2, [3]]], { a: { b: { c: [] } } }];
    for (const [i, x] of values.entries()) {
      const v = await db.put('types', `k${i}`, x);
      expectContentAddressed(v);
      expect(await db.get('types', `k${i}`)).toEqual(x === -0 ? 0 : x);
      expect(await db.getVersion('types', `k${i}`)).toEqual(v);
    }
    const a = await db.put('docs', 'a', { x: [1, 'y'], w: 1 });
    const b = await db.put('docs', 'b', { w: 1, x: [1, 'y'] });
    expect(a.valueId).toBe(b.valueId);
    await expectKoruError(() => db.get('users', 'nobody'), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.getVersion('nowhere', 'nobody'), 'KEY_NOT_FOUND');
  });

  it('values holding U+0000 round-trip exactly', async () => {
    const db = ctx.db();
    const value = { s: 'a\u0000b', list: ['\u0000', 'x'], ['k\u0000ey']: { n: 1 } };
    const v = await db.put('nul', 'k', value);
    expectContentAddressed(v);
    expect(await db.get('nul', 'k')).toEqual(value);
    expect(await db.getVersion('nul', 'k')).toEqual(v);
    expect(await db.history('nul', 'k')).toEqual([v]);
    const w = await db.put('nul', 'k', '\u0000');
    expect(await db.get('nul', 'k')).toBe('\u0000');
    expect((await db.getAt('nul', 'k', v.hlc)).value).toEqual(value);
    expect(await db.history('nul', 'k')).toEqual([v, w]);
    expect((await db.verify()).ok).toBe(true);
  });

  it('history is every version oldest first, one intact chain', async () => {
    const db = ctx.db();
    const written: Version[] = [];
    written.push(await db.put('h', 'k', { n: 1 }));
    written.push(await db.put('h', 'k', { n: 2 }));
    written.push(await db.delete('h', 'k'));
    written.push(await db.put('h', 'k', { n: 3 }));
    written.push(await db.put('h', 'k', { n: 3 }));
    await db.put('h', 'other', 1);
    const history = await db.history('h', 'k');
    expect(history).toEqual(written);
    expectIntactChain(history);
    for (const v of history) expectContentAddressed(v);
    expect(history[2]).toMatchObject({ deleted: true, value: null, valueId: null });
  });

  it('history limit: the newest versions, oldest first', async () => {
    const db = ctx.db();
    const written: Version[] = [];
    for (let i = 0; i < 5; i++) written.push(await db.put('h', 'k', i));
    expect(await db.history('h', 'k', { limit: 2 })).toEqual(written.slice(3));
    expect(await db.history('h', 'k', { limit: 1 })).toEqual(written.slice(4));
    expect(await db.history('h', 'k', { limit: 5 })).toEqual(written);
    expect(await db.history('h', 'k', { limit: 50 })).toEqual(written);
    expect(await db.history('h', 'k', { limit: 0 })).toEqual([]);
    await expectKoruError(() => db.history('h', 'none'), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.history('h', 'none', { limit: 0 }), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.history('h', 'k', { limit: -1 }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.history('h', 'k', { limit: 1.5 }), 'INVALID_ARGUMENT');
  });

  it('getAt by time and by hlc string', async () => {
    const db = ctx.db();
    const v1 = await db.put('t', 'k', 'one');
    await sleep(3);
    const between = Date.now();
    await sleep(3);
    const v2 = await db.put('t', 'k', 'two');
    const v3 = await db.put('t', 'k', 'three'); // maybe in the same millisecond as v2: the hlc tells them apart
    await sleep(3);
    const del = await db.delete('t', 'k');
    await sleep(3);
    const v5 = await db.put('t', 'k', 'five');

    expect(await db.getAt('t', 'k', v1.hlc)).toEqual(v1);
    expect(await db.getAt('t', 'k', v2.hlc)).toEqual(v2);
    expect(await db.getAt('t', 'k', v3.hlc)).toEqual(v3);
    expect(await db.getAt('t', 'k', v5.hlc)).toEqual(v5);
    expect(await db.getAt('t', 'k', between)).toEqual(v1);
    expect(await db.getAt('t', 'k', new Date(between))).toEqual(v1);
    expect(await db.getAt('t', 'k', new Date(between).toISOString())).toEqual(v1);
    expect(await db.getAt('t', 'k', Date.parse(v1.timestamp))).toEqual(v1);
    expect(await db.getAt('t', 'k', Date.parse(v3.timestamp))).toEqual(v3);
    expect(await db.getAt('t', 'k', Date.now() + 60_000)).toEqual(v5);
    const gone = await expectKoruError(() => db.getAt('t', 'k', del.hlc), 'KEY_NOT_FOUND');
    expect(gone.details).toEqual({ namespace: 't', key: 'k', hlc: del.hlc });
    const before = await expectKoruError(() => db.getAt('t', 'k', Date.parse(v1.timestamp) - 1), 'KEY_NOT_FOUND');
    expect(before.details).toEqual({ namespace: 't', key: 'k', at: new Date(Date.parse(v1.timestamp) - 1).toISOString() });
    await expectKoruError(() => db.getAt('t', 'never', Date.now()), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.getAt('t', 'k', 'yesterday-ish'), 'INVALID_ARGUMENT');
  });

  it('diff: the latest change by default; any two versions by index, id or time', async () => {
    const db = ctx.db();
    const v1 = await db.put('d', 'k', { a: 1, b: [1, 2], c: { x: 'y' } });
    const v2 = await db.put('d', 'k', { a: 2, b: [1], d: true });
    const v3 = await db.put('d', 'k', { a: 2, b: [1, 3], d: false, e: null });
    const latest = await db.diff('d', 'k');
    expect(latest).toEqual({ namespace: 'd', key: 'k', from: v2, to: v3, changes: diffValues(v2.value, v3.value) });
    expect(latest.changes.length).toBe(3);
    expect(await db.diff('d', 'k', { from: 0, to: 2 })).toEqual({ namespace: 'd', key: 'k', from: v1, to: v3, changes: diffValues(v1.value, v3.value) });
    expect(await db.diff('d', 'k', { from: 0, to: -2 })).toEqual({ namespace: 'd', key: 'k', from: v1, to: v2, changes: diffValues(v1.value, v2.value) });
    expect(await db.diff('d', 'k', { from: v1.versionId, to: v2.versionId })).toEqual(await db.diff('d', 'k', { from: 0, to: 1 }));
    const first = await db.put('d', 'single', [1]);
    expect(await db.diff('d', 'single')).toEqual({ namespace: 'd', key: 'single', from: null, to: first, changes: diffValues(undefined, [1]) });
    await expectKoruError(() => db.diff('d', 'k', { from: 7 }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.diff('d', 'k', { from: 'f'.repeat(64) }), 'VERSION_NOT_FOUND');
    await expectKoruError(() => db.diff('d', 'none'), 'KEY_NOT_FOUND');
  });

  it('delete: get answers KEY_NOT_FOUND, contains is false, history keeps the tombstone', async () => {
    const db = ctx.db();
    const v1 = await db.put('del', 'k', { n: 1 });
    await db.put('del', 'keep', 1);
    const tomb = await db.delete('del', 'k');
    expect(tomb).toMatchObject({ namespace: 'del', key: 'k', deleted: true, value: null, valueId: null, previousVersion: v1.versionId, node: db.nodeId });
    expectContentAddressed(tomb);
    await expectKoruError(() => db.get('del', 'k'), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.getVersion('del', 'k'), 'KEY_NOT_FOUND');
    expect(await db.contains('del', 'k')).toBe(false);
    expect(await db.contains('del', 'keep')).toBe(true);
    expect(await db.contains('del', 'never')).toBe(false);
    expect(await db.history('del', 'k')).toEqual([v1, tomb]);
    expect(await db.listKeys('del')).toEqual(['keep']);
    expect(await db.countKeys('del')).toBe(1);
    await expectKoruError(() => db.delete('del', 'never'), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.delete('del', 'k'), 'KEY_NOT_FOUND');
    const back = await db.put('del', 'k', { n: 2 });
    expect(back.previousVersion).toBe(tomb.versionId);
    expect(await db.get('del', 'k')).toEqual({ n: 2 });
    await db.delete('del', 'keep');
    await db.delete('del', 'k');
    expect(await db.listNamespaces()).toEqual([]);
    expect(await db.countKeys('del')).toBe(0);
  });

  it('compare-and-set: ifVersion right, wrong and null, on new, live and deleted keys', async () => {
    const db = ctx.db();
    const created = await db.put('cas', 'k', 1, { ifVersion: null });
    expect(created.previousVersion).toBeNull();
    await expectKoruError(() => db.put('cas', 'k', 2, { ifVersion: null }), 'VERSION_CONFLICT');
    await expectKoruError(() => db.put('cas', 'k', 2, { ifVersion: 'a'.repeat(64) }), 'VERSION_CONFLICT');
    await expectKoruError(() => db.put('cas', 'new', 2, { ifVersion: created.versionId }), 'VERSION_CONFLICT');
    const v2 = await db.put('cas', 'k', 2, { ifVersion: created.versionId });
    await expectKoruError(() => db.put('cas', 'k', 3, { ifVersion: created.versionId }), 'VERSION_CONFLICT');
    await expectKoruError(() => db.delete('cas', 'k', { ifVersion: created.versionId }), 'VERSION_CONFLICT');
    const tomb = await db.delete('cas', 'k', { ifVersion: v2.versionId });
    // A deleted key: "absent" (null) and its tombstone are what it is; its last value is not.
    await expectKoruError(() => db.put('cas', 'k', 4, { ifVersion: v2.versionId }), 'VERSION_CONFLICT');
    const afterNull = await db.put('cas', 'k', 4, { ifVersion: null });
    expect(afterNull.previousVersion).toBe(tomb.versionId);
    await db.delete('cas', 'k');
    const lastTomb = (await db.history('cas', 'k')).at(-1)!;
    const afterTomb = await db.put('cas', 'k', 5, { ifVersion: lastTomb.versionId });
    expect(afterTomb.previousVersion).toBe(lastTomb.versionId);
    expect(await db.history('cas', 'k')).toHaveLength(6);
    // Deleting a key with no value is KEY_NOT_FOUND before any compare-and-set.
    await expectKoruError(() => db.delete('cas', 'never', { ifVersion: 'c'.repeat(64) }), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.delete('cas', 'never', { ifVersion: null }), 'KEY_NOT_FOUND');
    const gone = await db.put('cas', 'gone', 1);
    const goneTomb = await db.delete('cas', 'gone', { ifVersion: gone.versionId });
    await expectKoruError(() => db.delete('cas', 'gone', { ifVersion: goneTomb.versionId }), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.delete('cas', 'gone', { ifVersion: gone.versionId }), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.put('cas', 'k', 6, { ifVersion: 'not an id' }), 'VERSION_CONFLICT');
    await expectKoruError(() => db.put('cas', 'k', 6, { ifVersion: 7 } as never), 'INVALID_ARGUMENT');
  });

  it('putMany is atomic: a conflict in one item stores none', async () => {
    const db = ctx.db();
    const a1 = await db.put('pm', 'a', 1);
    const seq = db.seq;
    const before = await db.stats();
    const err = await expectKoruError(
      () =>
        db.putMany([
          { namespace: 'pm', key: 'new1', value: 'x' },
          { namespace: 'pm', key: 'a', value: 2, ifVersion: 'b'.repeat(64) },
          { namespace: 'pm2', key: 'new2', value: 'y' },
        ]),
      'VERSION_CONFLICT',
    );
    expect(err.code).toBe('VERSION_CONFLICT');
    expect(await db.contains('pm', 'new1')).toBe(false);
    expect(await db.contains('pm2', 'new2')).toBe(false);
    expect(await db.history('pm', 'a')).toEqual([a1]);
    expect(await db.listNamespaces()).toEqual(['pm']);
    expect(db.seq).toBe(seq);
    const after = await db.stats();
    expect({ keys: after.keys, versions: after.versions, namespaces: after.namespaces, seq: after.seq }).toEqual({
      keys: before.keys,
      versions: before.versions,
      namespaces: before.namespaces,
      seq: before.seq,
    });
    // A bad item anywhere fails the batch too.
    await expectKoruError(() => db.putMany([{ namespace: 'pm', key: 'new1', value: 1 }, { namespace: 'pm', key: '', value: 1 }]), 'INVALID_KEY');
    expect(await db.contains('pm', 'new1')).toBe(false);

    const written = await db.putMany([
      { namespace: 'pm', key: 'a', value: 2, ifVersion: a1.versionId },
      { namespace: 'pm', key: 'b', value: 'b', ifVersion: null },
      { namespace: 'pm', key: 'b', value: 'b2' },
    ]);
    expect(written.map((v) => [v.key, v.value])).toEqual([
      ['a', 2],
      ['b', 'b'],
      ['b', 'b2'],
    ]);
    expect(written[0]!.previousVersion).toBe(a1.versionId);
    expect(written[2]!.previousVersion).toBe(written[1]!.versionId);
    for (const v of written) expectContentAddressed(v);
    expect(await db.history('pm', 'b')).toEqual(written.slice(1));
    expect(await db.putMany([])).toEqual([]);
  });

  it('listNamespaces, listKeys (prefix, after, limit; UTF-8 byte order) and countKeys', async () => {
    const db = ctx.db();
    const keys = ['a', 'ab', 'a/b', 'a.b', 'b', 'Z', 'é', 'éa', '\uE000', '\uFFFF', '😀', '😀x', '\u{10FFFF}', 'a😀', 'a\uFFFF', '~', ' '];
    for (const k of keys) await db.put('keys', k, k);
    await db.put('keys', 'gone', 1);
    await db.delete('keys', 'gone');
    await db.put('other', 'x', 1);
    await db.put('empty', 'x', 1);
    await db.delete('empty', 'x');
    const sorted = utf8Sorted(keys);
    expect(sorted.indexOf('\uFFFF')).toBeLessThan(sorted.indexOf('😀')); // UTF-16 order would say otherwise
    expect(await db.listKeys('keys')).toEqual(sorted);
    expect(await db.listNamespaces()).toEqual(['keys', 'other']);
    expect(await db.countKeys('keys')).toBe(keys.length);
    expect(await db.countKeys('empty')).toBe(0);
    expect(await db.countKeys('never')).toBe(0);
    expect(await db.listKeys('never')).toEqual([]);
    expect(await db.listKeys('keys', { prefix: 'a' })).toEqual(sorted.filter((k) => k.startsWith('a')));
    expect(await db.listKeys('keys', { prefix: '😀' })).toEqual(['😀', '😀x']);
    expect(await db.listKeys('keys', { prefix: 'é', limit: 1 })).toEqual(['é']);
    expect(await db.listKeys('keys', { prefix: 'a', after: 'a/b' })).toEqual(sorted.filter((k) => k.startsWith('a') && sorted.indexOf(k) > sorted.indexOf('a/b')));
    expect(await db.listKeys('keys', { after: '\uFFFF' })).toEqual(sorted.slice(sorted.indexOf('\uFFFF') + 1));
    expect(await db.listKeys('keys', { after: '\uD7FF' })).toEqual(sorted.slice(sorted.indexOf('\uE000')));
    expect(await db.listKeys('keys', { prefix: 'b', after: 'a' })).toEqual(['b']);
    expect(await db.listKeys('keys', { prefix: 'a', after: 'z' })).toEqual([]);
    // Paging through every key, three at a time, gives every key once, in order.
    const paged: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await db.listKeys('keys', { limit: 3, ...(after !== undefined ? { after } : {}) });
      paged.push(...page);
      if (page.length < 3) break;
      after = page.at(-1)!;
    }
    expect(paged).toEqual(sorted);
    await expectKoruError(() => db.listKeys('keys', { limit: 0 }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.listKeys('keys', { sort: 'desc' } as never), 'INVALID_ARGUMENT');
  });

  it('verify and stats', async () => {
    const db = ctx.db();
    // `values` counts value records, which depends on how a store lays values out: not compared.
    const checked = async (): Promise<unknown> => {
      const { ok, keys, versions, problems } = await db.verify();
      return { ok, keys, versions, problems };
    };
    expect(await checked()).toEqual({ ok: true, keys: 0, versions: 0, problems: [] });
    await db.put('a', 'x', { n: 1 });
    await db.put('a', 'x', { n: 2 });
    await db.put('a', 'y', { n: 1 });
    await db.put('b', 'z', 'text');
    await db.delete('b', 'z');
    await db.put('c', 'w', [1]);
    expect(await checked()).toEqual({ ok: true, keys: 4, versions: 6, problems: [] });
    const s = await db.stats();
    expect({ keys: s.keys, versions: s.versions, namespaces: s.namespaces, seq: s.seq }).toEqual({
      keys: 3,
      versions: 6,
      namespaces: 2,
      seq: 6,
    });
    expect(db.seq).toBe(6);
  });
}
