// The embedded API of DESIGN §4 on an in-memory database (everything but query,
// views and subscriptions, which live in @koru/query). diff is in diff.test.ts.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { KoruDelta, KoruError, type DiffChange, type JsonValue, type Version } from '@koru/delta';
import { expectIntactChain, expectKoruError, HEX64, HLC, ISO_MS, manualClock, sha256Hex } from './support.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0, 0);

let db: KoruDelta;
beforeEach(async () => {
  db = await KoruDelta.start();
});
afterEach(async () => {
  await db.close();
});

describe('start', () => {
  test('zero configuration gives an in-memory database with a node id', async () => {
    expect(db.nodeId).toMatch(/^[0-9a-f]{16}$/);
    const s = await db.stats();
    expect(s).toMatchObject({ adapter: 'memory', keys: 0, versions: 0, namespaces: 0, diskBytes: 0, seq: 0 });
    expect(db.recovery).toEqual({ replayed: 0 });
  });

  test('two in-memory databases are independent', async () => {
    const other = await KoruDelta.start();
    try {
      await db.put('a', 'k', 1);
      expect(await other.contains('a', 'k')).toBe(false);
      expect(other.nodeId).not.toBe(db.nodeId);
    } finally {
      await other.close();
    }
  });

  test('start(null) is zero configuration; options that are not an object → INVALID_ARGUMENT', async () => {
    const d = await KoruDelta.start(null as never);
    await d.put('a', 'k', 1);
    await d.close();
    await expectKoruError(() => KoruDelta.start('./data' as never), 'INVALID_ARGUMENT', /options/);
  });

  test.each([
    [{ sync: 'sometimes' }, /sync/],
    [{ maxValueBytes: 0 }, /maxValueBytes/],
    [{ maxValueBytes: -1 }, /maxValueBytes/],
    [{ maxValueBytes: 1.5 }, /maxValueBytes/],
    [{ maxDepth: 'deep' }, /maxDepth/],
    [{ maxDepth: 1_000_000 }, /maxDepth.*1000/],
    [{ syncIntervalMs: Number.NaN }, /syncIntervalMs/],
    [{ valueCacheBytes: -5 }, /valueCacheBytes/],
    [{ memtableBytes: Infinity }, /memtableBytes/],
    [{ cacheBytes: -1 }, /cacheBytes/],
    [{ now: 5 }, /now/],
    [{ repair: 'yes' }, /repair/],
    [{ path: '' }, /path/],
    [{ path: 42 }, /path/],
  ])('bad option %j → INVALID_ARGUMENT', async (options, message) => {
    await expectKoruError(() => KoruDelta.start(options as never), 'INVALID_ARGUMENT', message);
  });
});

describe('put', () => {
  test('returns a Version with every field', async () => {
    const before = Date.now();
    const v = await db.put('users', 'alice', { name: 'Alice', age: 30 });
    const after = Date.now();
    expect(Object.keys(v).sort()).toEqual(
      ['deleted', 'hlc', 'key', 'namespace', 'node', 'previousVersion', 'timestamp', 'value', 'valueId', 'versionId'].sort(),
    );
    expect(v.namespace).toBe('users');
    expect(v.key).toBe('alice');
    expect(v.value).toEqual({ name: 'Alice', age: 30 });
    expect(v.valueId).toBe(await sha256Hex('{"age":30,"name":"Alice"}'));
    expect(v.versionId).toMatch(HEX64);
    expect(v.versionId).not.toBe(v.valueId);
    expect(v.previousVersion).toBeNull();
    expect(v.timestamp).toMatch(ISO_MS);
    expect(new Date(v.timestamp).toISOString()).toBe(v.timestamp);
    const ms = Date.parse(v.timestamp);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
    expect(v.hlc).toMatch(HLC);
    expect(Number(v.hlc.slice(0, 15))).toBe(ms);
    expect(v.node).toBe(db.nodeId);
    expect(v.deleted).toBe(false);
  });

  test('the value id is the SHA-256 of RFC 8785 canonical JSON, whatever the key order', async () => {
    const a = await db.put('docs', 'a', { b: [1, 2.5, 'x'], a: { d: null, c: true } });
    const b = await db.put('docs', 'b', { a: { c: true, d: null }, b: [1, 2.5, 'x'] });
    expect(a.valueId).toBe(b.valueId);
    expect(a.valueId).toBe(await sha256Hex('{"a":{"c":true,"d":null},"b":[1,2.5,"x"]}'));
    expect(a.versionId).not.toBe(b.versionId);
    // Numbers in ECMAScript form, -0 as 0, strings minimally escaped.
    const c = await db.put('docs', 'c', { n: 1e21, z: -0, s: 'é"\n\u2028' });
    expect(c.valueId).toBe(await sha256Hex('{"n":1e+21,"s":"é\\"\\n\u2028","z":0}'));
    expect(await db.get('docs', 'c')).toEqual({ n: 1e21, z: 0, s: 'é"\n\u2028' });
  });

  test('every JSON type round-trips', async () => {
    const values: JsonValue[] = [null, true, false, 0, -1.5, 1e300, '', 'text ✓ 😀', [], {}, [1, [2, [3]]], { a: { b: { c: [] } } }];
    for (const [i, v] of values.entries()) {
      await db.put('types', `k${i}`, v);
      expect(await db.get('types', `k${i}`)).toEqual(v);
    }
  });

  test('each write chains on the previous one and the HLC strictly increases', async () => {
    const v1 = await db.put('users', 'bob', 1);
    const v2 = await db.put('users', 'bob', 2);
    const v3 = await db.put('users', 'bob', 2);
    expect(v2.previousVersion).toBe(v1.versionId);
    expect(v3.previousVersion).toBe(v2.versionId);
    expect(v3.valueId).toBe(v2.valueId);
    expect(v3.versionId).not.toBe(v2.versionId);
    expect(v1.hlc < v2.hlc && v2.hlc < v3.hlc).toBe(true);
  });

  test('the HLC keeps increasing when the wall clock steps back', async () => {
    const clock = manualClock(T0);
    const d = await KoruDelta.start({ now: clock.now });
    try {
      const a = await d.put('n', 'k', 'a');
      clock.set(T0 - 60_000);
      const b = await d.put('n', 'k', 'b');
      const c = await d.put('n', 'k', 'c');
      expect(a.hlc < b.hlc && b.hlc < c.hlc).toBe(true);
      expect(a.timestamp).toBe(new Date(T0).toISOString());
      expect(Date.parse(b.timestamp)).toBeGreaterThanOrEqual(T0);
      clock.set(T0 + 5000);
      const e = await d.put('n', 'k', 'e');
      expect(e.timestamp).toBe(new Date(T0 + 5000).toISOString());
      expect(e.hlc).toBe(`${String(T0 + 5000).padStart(15, '0')}-000000`);
    } finally {
      await d.close();
    }
  });

  test('keys may contain "/", ":", spaces and any Unicode', async () => {
    const keys = ['a/b/c', 'ns:key', 'with space', '😀 ключ', '~0~1', '..', '/', '\t\n', 'k'.repeat(1024)];
    for (const key of keys) {
      await db.put('misc', key, key);
      expect(await db.get('misc', key)).toBe(key);
      expect(await db.contains('misc', key)).toBe(true);
    }
    expect(await db.listKeys('misc')).toEqual([...keys].sort());
  });
});

describe('put with ifVersion (compare-and-set)', () => {
  test('succeeds when the head is the expected version', async () => {
    const v1 = await db.put('acct', 'x', { balance: 10 });
    const v2 = await db.put('acct', 'x', { balance: 20 }, { ifVersion: v1.versionId });
    expect(v2.previousVersion).toBe(v1.versionId);
    expect(await db.get('acct', 'x')).toEqual({ balance: 20 });
  });

  test('a stale version → VERSION_CONFLICT naming both versions, nothing stored', async () => {
    const v1 = await db.put('acct', 'x', 1);
    const v2 = await db.put('acct', 'x', 2);
    const before = (await db.stats()).versions;
    const e = await expectKoruError(
      () => db.put('acct', 'x', 3, { ifVersion: v1.versionId }),
      'VERSION_CONFLICT',
      /acct\/x/,
      new RegExp(v1.versionId),
      new RegExp(v2.versionId),
    );
    expect(e.details).toMatchObject({ namespace: 'acct', key: 'x', expected: v1.versionId, actual: v2.versionId });
    expect((await db.stats()).versions).toBe(before);
    expect(await db.get('acct', 'x')).toBe(2);
  });

  test('ifVersion null creates only when the key does not exist', async () => {
    const v = await db.put('acct', 'new', 'first', { ifVersion: null });
    expect(v.previousVersion).toBeNull();
    await expectKoruError(() => db.put('acct', 'new', 'second', { ifVersion: null }), 'VERSION_CONFLICT', /acct\/new/);
    expect(await db.history('acct', 'new')).toHaveLength(1);
  });

  test('an expected version on a key that does not exist → VERSION_CONFLICT', async () => {
    await expectKoruError(() => db.put('acct', 'ghost', 1, { ifVersion: 'a'.repeat(64) }), 'VERSION_CONFLICT');
    expect(await db.contains('acct', 'ghost')).toBe(false);
  });

  test('a deleted key can be recreated with ifVersion = its tombstone', async () => {
    await db.put('acct', 'y', 1);
    const t = await db.delete('acct', 'y');
    const v = await db.put('acct', 'y', 2, { ifVersion: t.versionId });
    expect(v.previousVersion).toBe(t.versionId);
  });

  test('delete with ifVersion is a compare-and-delete', async () => {
    const v1 = await db.put('acct', 'z', 1);
    const v2 = await db.put('acct', 'z', 2);
    await expectKoruError(() => db.delete('acct', 'z', { ifVersion: v1.versionId }), 'VERSION_CONFLICT');
    expect(await db.contains('acct', 'z')).toBe(true);
    const t = await db.delete('acct', 'z', { ifVersion: v2.versionId });
    expect(t.deleted).toBe(true);
  });

  test('ifVersion of the wrong type → INVALID_ARGUMENT', async () => {
    await db.put('acct', 'w', 1);
    await expectKoruError(() => db.put('acct', 'w', 2, { ifVersion: 5 as never }), 'INVALID_ARGUMENT', /ifVersion/);
    await expectKoruError(() => db.delete('acct', 'w', { ifVersion: {} as never }), 'INVALID_ARGUMENT', /ifVersion/);
    expect(await db.history('acct', 'w')).toHaveLength(1);
  });
});

describe('putMany', () => {
  test('writes a batch and returns the versions in input order', async () => {
    const vs = await db.putMany([
      { namespace: 'a', key: '1', value: 'one' },
      { namespace: 'b', key: '2', value: { two: 2 } },
      { namespace: 'a', key: '1', value: 'uno' },
    ]);
    expect(vs.map((v) => [v.namespace, v.key, v.value])).toEqual([
      ['a', '1', 'one'],
      ['b', '2', { two: 2 }],
      ['a', '1', 'uno'],
    ]);
    expect(vs[2]!.previousVersion).toBe(vs[0]!.versionId);
    expect(await db.get('a', '1')).toBe('uno');
    expect(await db.history('a', '1')).toEqual([vs[0], vs[2]]);
    expect(await db.putMany([])).toEqual([]);
  });

  test('one invalid item rejects the whole batch; nothing is stored', async () => {
    await db.put('a', 'keep', 0);
    const before = await db.stats();
    await expectKoruError(
      () =>
        db.putMany([
          { namespace: 'a', key: 'x', value: 1 },
          { namespace: 'a', key: 'y', value: Number.NaN },
        ]),
      'INVALID_VALUE',
    );
    await expectKoruError(() => db.putMany([{ namespace: 'a', key: 'x', value: 1 }, { namespace: '_bad', key: 'y', value: 1 }]), 'INVALID_NAMESPACE');
    expect(await db.stats()).toEqual(before);
    expect(await db.contains('a', 'x')).toBe(false);
  });

  test('a compare-and-set conflict in the batch stores nothing', async () => {
    const v = await db.put('a', 'cas', 1);
    await db.put('a', 'cas', 2);
    const before = (await db.stats()).versions;
    await expectKoruError(
      () =>
        db.putMany([
          { namespace: 'a', key: 'other', value: 1 },
          { namespace: 'a', key: 'cas', value: 3, ifVersion: v.versionId },
        ]),
      'VERSION_CONFLICT',
    );
    expect((await db.stats()).versions).toBe(before);
    expect(await db.contains('a', 'other')).toBe(false);
    const ok = await db.putMany([{ namespace: 'a', key: 'cas', value: 3, ifVersion: (await db.getVersion('a', 'cas')).versionId }]);
    expect(ok[0]!.value).toBe(3);
  });

  test('not an array, or items that are not objects → INVALID_ARGUMENT', async () => {
    await expectKoruError(() => db.putMany(null as never), 'INVALID_ARGUMENT', /array/);
    await expectKoruError(() => db.putMany({ namespace: 'a', key: 'k', value: 1 } as never), 'INVALID_ARGUMENT', /array/);
    await expectKoruError(() => db.putMany([null] as never), 'INVALID_ARGUMENT', /object/);
    expect((await db.stats()).versions).toBe(0);
  });
});

describe('get and getVersion', () => {
  test('get returns the current value, getVersion the current Version', async () => {
    await db.put('users', 'alice', { v: 1 });
    const v2 = await db.put('users', 'alice', { v: 2 });
    expect(await db.get('users', 'alice')).toEqual({ v: 2 });
    expect(await db.getVersion('users', 'alice')).toEqual(v2);
  });

  test('a key never written → KEY_NOT_FOUND naming it', async () => {
    const e = await expectKoruError(() => db.get('users', 'nobody'), 'KEY_NOT_FOUND', /users\/nobody/);
    expect(e.details).toMatchObject({ namespace: 'users', key: 'nobody' });
    await expectKoruError(() => db.getVersion('users', 'nobody'), 'KEY_NOT_FOUND', /users\/nobody/);
    await expectKoruError(() => db.get('nowhere', 'nobody'), 'KEY_NOT_FOUND', /nowhere\/nobody/);
  });
});

describe('getAt (time travel)', () => {
  let clock: ReturnType<typeof manualClock>;
  let tdb: KoruDelta;
  let v: Version[];
  beforeEach(async () => {
    clock = manualClock(T0);
    tdb = await KoruDelta.start({ now: clock.now });
    v = [];
    v.push(await tdb.put('cfg', 'mode', 'a')); // T0
    clock.set(T0 + 1000);
    v.push(await tdb.put('cfg', 'mode', 'b')); // T0+1s
    clock.set(T0 + 2000);
    v.push(await tdb.delete('cfg', 'mode')); // T0+2s
    clock.set(T0 + 3000);
    v.push(await tdb.put('cfg', 'mode', 'c')); // T0+3s
  });
  afterEach(async () => {
    await tdb.close();
  });

  test('accepts a Date, an ISO string and epoch ms', async () => {
    expect(await tdb.getAt('cfg', 'mode', new Date(T0 + 500))).toEqual(v[0]);
    expect(await tdb.getAt('cfg', 'mode', new Date(T0 + 500).toISOString())).toEqual(v[0]);
    expect(await tdb.getAt('cfg', 'mode', T0 + 500)).toEqual(v[0]);
    expect(await tdb.getAt('cfg', 'mode', String(T0 + 1500))).toEqual(v[1]);
    // An ISO string with an offset is the same instant.
    expect(await tdb.getAt('cfg', 'mode', '2024-01-01T13:00:01.500+01:00')).toEqual(v[1]);
  });

  test('the version current at t is the last with timestamp <= t', async () => {
    expect((await tdb.getAt('cfg', 'mode', T0)).value).toBe('a');
    expect((await tdb.getAt('cfg', 'mode', T0 + 999)).value).toBe('a');
    expect((await tdb.getAt('cfg', 'mode', T0 + 1000)).value).toBe('b');
    expect((await tdb.getAt('cfg', 'mode', T0 + 3000)).value).toBe('c');
    expect((await tdb.getAt('cfg', 'mode', new Date(T0 + 10 ** 9))).value).toBe('c');
  });

  test('before the first version and inside a deleted span → KEY_NOT_FOUND', async () => {
    await expectKoruError(() => tdb.getAt('cfg', 'mode', T0 - 1), 'KEY_NOT_FOUND', /cfg\/mode/, /2024-01-01T11:59:59\.999Z/);
    await expectKoruError(() => tdb.getAt('cfg', 'mode', T0 + 2000), 'KEY_NOT_FOUND');
    await expectKoruError(() => tdb.getAt('cfg', 'mode', T0 + 2999), 'KEY_NOT_FOUND');
    await expectKoruError(() => tdb.getAt('cfg', 'other', T0 + 5000), 'KEY_NOT_FOUND', /cfg\/other/);
  });

  test('several versions in the same millisecond: the last one wins', async () => {
    clock.set(T0 + 4000);
    await tdb.put('cfg', 'burst', 1);
    await tdb.put('cfg', 'burst', 2);
    const last = await tdb.put('cfg', 'burst', 3);
    expect(await tdb.getAt('cfg', 'burst', T0 + 4000)).toEqual(last);
  });

  test.each([
    ['an unparsable string', 'yesterday'],
    ['an empty string', ''],
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['a time beyond what a Date can hold', 1e300],
    ['an invalid Date', new Date('nope')],
    ['undefined', undefined],
    ['null', null],
    ['an object', {}],
    ['an object without a prototype', Object.create(null)],
    ['a boolean', true],
  ])('an invalid time (%s) → INVALID_ARGUMENT', async (_, when) => {
    await expectKoruError(() => tdb.getAt('cfg', 'mode', when as never), 'INVALID_ARGUMENT', /not a valid time/);
  });
});

describe('history', () => {
  test('lists every version oldest first, tombstones included', async () => {
    const a = await db.put('h', 'k', 1);
    const b = await db.put('h', 'k', 2);
    const c = await db.delete('h', 'k');
    const d = await db.put('h', 'k', 3);
    const h = await db.history('h', 'k');
    expect(h).toEqual([a, b, c, d]);
    expectIntactChain(h);
  });

  test('limit keeps the newest versions', async () => {
    const vs: Version[] = [];
    for (let i = 0; i < 10; i++) vs.push(await db.put('h', 'k', i));
    expect(await db.history('h', 'k', { limit: 3 })).toEqual(vs.slice(7));
    expect(await db.history('h', 'k', { limit: 1 })).toEqual(vs.slice(9));
    expect(await db.history('h', 'k', { limit: 0 })).toEqual([]);
    expect(await db.history('h', 'k', { limit: 100 })).toEqual(vs);
    expect(await db.history('h', 'k', {})).toEqual(vs);
  });

  test('a bad limit → INVALID_ARGUMENT; an unknown key → KEY_NOT_FOUND', async () => {
    await db.put('h', 'k', 1);
    for (const limit of [-1, 1.5, Number.NaN, '2']) {
      await expectKoruError(() => db.history('h', 'k', { limit: limit as never }), 'INVALID_ARGUMENT', /limit/);
    }
    await expectKoruError(() => db.history('h', 'missing'), 'KEY_NOT_FOUND', /h\/missing/);
  });
});

describe('delete', () => {
  test('writes a tombstone; history is kept; get then says not found', async () => {
    const v1 = await db.put('users', 'carol', { name: 'Carol' });
    const t = await db.delete('users', 'carol');
    expect(t).toMatchObject({ namespace: 'users', key: 'carol', value: null, valueId: null, previousVersion: v1.versionId, deleted: true, node: db.nodeId });
    expect(t.versionId).toMatch(HEX64);
    expect(t.timestamp).toMatch(ISO_MS);
    expect(t.hlc > v1.hlc).toBe(true);
    expect(await db.history('users', 'carol')).toEqual([v1, t]);
    await expectKoruError(() => db.get('users', 'carol'), 'KEY_NOT_FOUND', /users\/carol/);
    await expectKoruError(() => db.getVersion('users', 'carol'), 'KEY_NOT_FOUND');
    expect(await db.contains('users', 'carol')).toBe(false);
    expect(await db.listKeys('users')).toEqual([]);
  });

  test('deleting a missing or already deleted key → KEY_NOT_FOUND, nothing stored', async () => {
    await expectKoruError(() => db.delete('users', 'nobody'), 'KEY_NOT_FOUND', /users\/nobody/);
    await db.put('users', 'dave', 1);
    await db.delete('users', 'dave');
    const before = (await db.stats()).versions;
    await expectKoruError(() => db.delete('users', 'dave'), 'KEY_NOT_FOUND', /users\/dave/);
    expect((await db.stats()).versions).toBe(before);
  });

  test('a put after a delete continues the same chain', async () => {
    await db.put('users', 'erin', 1);
    const t = await db.delete('users', 'erin');
    const v = await db.put('users', 'erin', 2);
    expect(v.previousVersion).toBe(t.versionId);
    expect(await db.get('users', 'erin')).toBe(2);
    expectIntactChain(await db.history('users', 'erin'));
  });
});

describe('contains, listNamespaces, listKeys, stats, verify, compact', () => {
  test('contains', async () => {
    expect(await db.contains('c', 'k')).toBe(false);
    await db.put('c', 'k', false);
    expect(await db.contains('c', 'k')).toBe(true);
    expect(await db.contains('c', 'K')).toBe(false);
    await expectKoruError(() => db.contains('_c', 'k'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.contains('c', ''), 'INVALID_KEY');
  });

  test('listNamespaces and listKeys are sorted and list live keys only', async () => {
    await db.put('zeta', 'b', 1);
    await db.put('alpha', 'z', 1);
    await db.put('alpha', 'a', 1);
    await db.put('Mid', 'k', 1);
    await db.put('gone', 'k', 1);
    await db.delete('gone', 'k');
    expect(await db.listNamespaces()).toEqual(['Mid', 'alpha', 'zeta']);
    expect(await db.listKeys('alpha')).toEqual(['a', 'z']);
    expect(await db.listKeys('gone')).toEqual([]);
    expect(await db.listKeys('never')).toEqual([]);
    await expectKoruError(() => db.listKeys('bad ns'), 'INVALID_NAMESPACE');
  });

  test('stats counts keys, versions, namespaces and values stored: small ones per version, large ones once', async () => {
    await db.put('s', 'a', { big: 'x'.repeat(100) });
    await db.put('s', 'b', { big: 'x'.repeat(100) });
    await db.put('s', 'a', 2);
    await db.put('t', 'c', 3);
    await db.put('s', 'l1', { big: 'y'.repeat(2000) });
    await db.put('s', 'l2', { big: 'y'.repeat(2000) });
    await db.delete('t', 'c');
    const s = await db.stats();
    // Small values are inline in each of the 4 live versions holding one; the large value is stored once.
    expect(s).toMatchObject({ keys: 4, versions: 7, namespaces: 1, distinctValues: 5, seq: 7, adapter: 'memory', diskBytes: 0 });
    // {"big":"x…x"} is 110 bytes, counted twice, "2" and "3" 1 each, {"big":"y…y"} 2010 bytes once.
    expect(s.valueBytes).toBe(2 * 110 + 1 + 1 + 2010);
  });

  test('verify re-hashes every chain and value', async () => {
    await db.put('v', 'a', { x: 1 });
    await db.put('v', 'a', { x: 2 });
    await db.put('v', 'b', [1, 2]);
    await db.delete('v', 'b');
    await db.put('v', 'c', { big: 'z'.repeat(2000) });
    // Small values are checked inline in their versions; only the large one has a value record.
    expect(await db.verify()).toEqual({ ok: true, keys: 3, versions: 5, values: 1, problems: [] });
  });

  test('compact keeps everything (a no-op in memory)', async () => {
    await db.put('c', 'k', 1);
    await db.put('c', 'k', 2);
    const h = await db.history('c', 'k');
    await db.compact();
    expect(await db.history('c', 'k')).toEqual(h);
    expect((await db.verify()).ok).toBe(true);
  });
});

describe('close', () => {
  test('waits for writes issued before it', async () => {
    const writes = [db.put('w', 'a', 1), db.put('w', 'b', 2), db.putMany([{ namespace: 'w', key: 'c', value: 3 }])];
    await db.close();
    await expect(Promise.all(writes)).resolves.toHaveLength(3);
  });

  test('then every call → CLOSED; closing again is fine', async () => {
    const v = await db.put('x', 'k', 1);
    await db.close();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['put', () => db.put('x', 'k', 2)],
      ['put ifVersion', () => db.put('x', 'k', 2, { ifVersion: v.versionId })],
      ['putMany', () => db.putMany([{ namespace: 'x', key: 'k', value: 2 }])],
      ['get', () => db.get('x', 'k')],
      ['getVersion', () => db.getVersion('x', 'k')],
      ['getAt', () => db.getAt('x', 'k', Date.now())],
      ['history', () => db.history('x', 'k')],
      ['diff', () => db.diff('x', 'k')],
      ['delete', () => db.delete('x', 'k')],
      ['contains', () => db.contains('x', 'k')],
      ['listNamespaces', () => db.listNamespaces()],
      ['listKeys', () => db.listKeys('x')],
      ['stats', () => db.stats()],
      ['verify', () => db.verify()],
      ['compact', () => db.compact()],
    ];
    for (const [name, call] of calls) {
      const e = await expectKoruError(call, 'CLOSED', /closed/);
      expect(e, name).toBeInstanceOf(KoruError);
    }
    await expect(db.close()).resolves.toBeUndefined();
  });
});

describe('returned values are immutable', () => {
  const mutations: Array<[string, (v: Record<string, unknown> & { list: unknown[]; nested: { deep: Record<string, unknown> } }) => void]> = [
    ['set a field', (v) => (v.name = 'hacked')],
    ['add a field', (v) => (v.extra = 1)],
    ['delete a field', (v) => delete v.name],
    ['set a nested field', (v) => (v.nested.deep.x = 2)],
    ['push to an array', (v) => v.list.push(4)],
    ['set an array element', (v) => (v.list[0] = 'x')],
    ['change the prototype', (v) => Object.setPrototypeOf(v, { polluted: true })],
  ];
  const original = { name: 'Alice', list: [1, 2, 3], nested: { deep: { x: 1 } } };

  test.each(mutations)('%s throws on values from put, get, getVersion, getAt, history and diff', async (_, mutate) => {
    const v = await db.put('frozen', 'k', original);
    await db.put('frozen', 'k', { ...original, name: 'Bob' });
    const handed = [
      v.value,
      await db.get('frozen', 'k'),
      (await db.getVersion('frozen', 'k')).value,
      (await db.getAt('frozen', 'k', Date.now())).value,
      ...(await db.history('frozen', 'k')).map((h) => h.value),
      (await db.diff('frozen', 'k', { from: 0 })).from!.value,
    ];
    for (const value of handed) expect(() => mutate(value as never)).toThrow(TypeError);
    expect((await db.history('frozen', 'k'))[0]!.value).toEqual(original);
    expect(await db.get('frozen', 'k')).toEqual({ ...original, name: 'Bob' });
  });

  test('Version objects and diff results are frozen too', async () => {
    const v = await db.put('frozen', 'k', 1);
    await db.put('frozen', 'k', 2);
    expect(() => ((v as { versionId: string }).versionId = 'x')).toThrow(TypeError);
    const h = await db.history('frozen', 'k');
    expect(() => ((h[0] as { deleted: boolean }).deleted = true)).toThrow(TypeError);
    const d = await db.diff('frozen', 'k');
    expect(() => ((d.changes as DiffChange[]).length = 0)).toThrow(TypeError);
    expect(() => ((d as { to: unknown }).to = null)).toThrow(TypeError);
    // The history array itself is the caller's: changing it changes nothing stored.
    h.length = 0;
    expect(await db.history('frozen', 'k')).toHaveLength(2);
  });

  test("mutating the caller's object after put changes nothing stored", async () => {
    const mine = { name: 'Alice', list: [1, 2, 3], nested: { deep: { x: 1 } } };
    const v = await db.put('frozen', 'mine', mine);
    mine.name = 'Mallory';
    mine.list.push(4);
    mine.nested.deep.x = 99;
    expect(await db.get('frozen', 'mine')).toEqual({ name: 'Alice', list: [1, 2, 3], nested: { deep: { x: 1 } } });
    expect(v.value).toEqual({ name: 'Alice', list: [1, 2, 3], nested: { deep: { x: 1 } } });
    expect(Object.isFrozen(mine)).toBe(false);
    // Mutating it before the write commits (put is issued, not awaited) is safe too.
    const pending = db.put('frozen', 'pending', mine);
    mine.name = 'Changed';
    expect((await pending).value).toMatchObject({ name: 'Mallory' });
    expect(await db.get('frozen', 'pending')).toMatchObject({ name: 'Mallory' });
  });
});
