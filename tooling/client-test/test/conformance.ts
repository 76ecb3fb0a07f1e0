// The conformance suite (not a test file itself): the same cases run against any
// handle with the embedded API — `KoruDelta.start()` in process, a `KoruClient` on a
// real server — so that both behave alike: results, frozen values, error codes and
// classes, subscriptions. Reusable: `conformance(label, open)` with a factory of fresh,
// empty databases.
import { Agg, Filter, InvalidNamespaceError, InvalidValueError, isKoruError, KoruDelta, KoruError, Query, type ChangeEvent, type LaggedEvent, type PrunedEvent, type Version } from '@koru/delta';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

/** The part of the embedded API a remote handle has too. */
export type KoruApi = Pick<
  KoruDelta,
  | 'put'
  | 'putMany'
  | 'get'
  | 'getVersion'
  | 'getAt'
  | 'history'
  | 'diff'
  | 'delete'
  | 'contains'
  | 'listNamespaces'
  | 'listKeys'
  | 'countKeys'
  | 'stats'
  | 'verify'
  | 'query'
  | 'aggregate'
  | 'queryHistory'
  | 'createIndex'
  | 'dropIndex'
  | 'listIndexes'
  | 'createView'
  | 'listViews'
  | 'refreshView'
  | 'queryView'
  | 'deleteView'
  | 'importVersions'
  | 'subscribe'
  | 'changes'
  | 'close'
  | 'seq'
  | 'nodeId'
>;

/** A fresh, empty database and how to dispose of it. */
export interface Opened {
  readonly db: KoruApi;
  /** Closes the handle and whatever stands behind it (a server process...). */
  dispose(): Promise<void>;
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Awaits `fn()`, which must return a promise (never throw) that rejects with a KoruError of `code`. */
async function fails(fn: () => Promise<unknown>, code: string, message?: RegExp): Promise<KoruError> {
  let p: Promise<unknown>;
  try {
    p = fn();
  } catch (e) {
    throw new Error(`expected a rejected promise with ${code}, but the call threw synchronously: ${String(e)}`);
  }
  expect(p).toBeInstanceOf(Promise);
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, `expected ${code}, but it succeeded`).toBeInstanceOf(KoruError);
  const k = e as KoruError;
  expect(k.code, k.message).toBe(code);
  expect(isKoruError(k, code as never)).toBe(true);
  if (message !== undefined) expect(k.message).toMatch(message);
  return k;
}

/** A subscription error: thrown at once (embedded) or through `done` (remote). */
async function subscribeFails(start: () => { done: Promise<void> }, code: string): Promise<void> {
  let sub: { done: Promise<void> };
  try {
    sub = start();
  } catch (e) {
    expect((e as KoruError).code).toBe(code);
    return;
  }
  const e = await sub.done.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(KoruError);
  expect((e as KoruError).code).toBe(code);
}

/** Waits until `check()` holds (10 s at most). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Registers the suite under `label`; `open` gives a fresh, empty database per test. */
export function conformance(label: string, open: () => Promise<Opened>): void {
  describe(`conformance: ${label}`, () => {
    let opened: Opened;
    let db: KoruApi;
    beforeEach(async () => {
      opened = await open();
      db = opened.db;
    });
    afterEach(async () => {
      await opened.dispose();
    });

    describe('writes and reads', () => {
      test('put returns a frozen Version with every field; get the frozen value', async () => {
        const v = await db.put('users', 'alice', { name: 'Alice', age: 30, tags: ['a'] });
        expect(Object.keys(v).sort()).toEqual(['deleted', 'hlc', 'key', 'namespace', 'node', 'previousVersion', 'timestamp', 'value', 'valueId', 'versionId']);
        expect(v).toMatchObject({ namespace: 'users', key: 'alice', value: { name: 'Alice', age: 30, tags: ['a'] }, previousVersion: null, deleted: false, node: db.nodeId });
        expect(v.versionId).toMatch(HEX64);
        expect(v.valueId).toMatch(HEX64);
        expect(v.timestamp).toMatch(ISO_MS);
        expect(Object.isFrozen(v)).toBe(true);
        const value = (await db.get('users', 'alice')) as { tags: string[] };
        expect(value).toEqual({ name: 'Alice', age: 30, tags: ['a'] });
        expect(Object.isFrozen(value) && Object.isFrozen(value.tags)).toBe(true);
        expect(await db.getVersion('users', 'alice')).toEqual(v);
        // Canonical key order, as stored.
        expect(Object.keys(value)).toEqual(['age', 'name', 'tags']);
      });

      test('keys and values round-trip: unicode, slashes, __proto__ as data, big and small numbers', async () => {
        const key = 'a/b:c %20 ✓ 🙂';
        const value = JSON.parse('{"__proto__": {"x": 1}, "n": -0, "big": 1e300, "small": 5e-324, "s": "\\u0000\\n"}') as unknown;
        await db.put('ns.x-y_z', key, value);
        const back = (await db.get('ns.x-y_z', key)) as Record<string, unknown>;
        expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
        expect(Object.prototype.hasOwnProperty.call(back, '__proto__')).toBe(true);
        expect(back).toEqual(JSON.parse('{"__proto__": {"x": 1}, "n": 0, "big": 1e300, "small": 5e-324, "s": "\\u0000\\n"}'));
        expect(await db.listKeys('ns.x-y_z')).toEqual([key]);
      });

      test('compare-and-set with ifVersion; VERSION_CONFLICT names both versions', async () => {
        const v1 = await db.put('docs', 'd', 1);
        const v2 = await db.put('docs', 'd', 2, { ifVersion: v1.versionId });
        expect(v2.previousVersion).toBe(v1.versionId);
        const e = await fails(() => db.put('docs', 'd', 3, { ifVersion: v1.versionId }), 'VERSION_CONFLICT');
        expect(e.details).toMatchObject({ namespace: 'docs', key: 'd', expected: v1.versionId, actual: v2.versionId });
        await fails(() => db.put('docs', 'd', 3, { ifVersion: null }), 'VERSION_CONFLICT');
        await db.put('docs', 'new', 1, { ifVersion: null });
        await fails(() => db.delete('docs', 'd', { ifVersion: v1.versionId }), 'VERSION_CONFLICT');
        await fails(() => db.put('docs', 'd', 3, { ifVersion: 42 as never }), 'INVALID_ARGUMENT', /ifVersion/);
        expect(await db.get('docs', 'd')).toBe(2);
      });

      test('history oldest first with limit; getAt by Date, ISO string and epoch ms', async () => {
        const v1 = await db.put('h', 'k', { n: 1 });
        await sleep(5);
        const v2 = await db.put('h', 'k', { n: 2 });
        await sleep(5);
        const v3 = await db.put('h', 'k', { n: 3 });
        const all = await db.history('h', 'k');
        expect(all.map((v) => v.versionId)).toEqual([v1.versionId, v2.versionId, v3.versionId]);
        expect(all.every((v) => Object.isFrozen(v))).toBe(true);
        expect((await db.history('h', 'k', { limit: 1 })).map((v) => v.value)).toEqual([{ n: 3 }]);
        expect((await db.getAt('h', 'k', v2.timestamp)).versionId).toBe(v2.versionId);
        expect((await db.getAt('h', 'k', new Date(v1.timestamp))).versionId).toBe(v1.versionId);
        expect((await db.getAt('h', 'k', Date.parse(v3.timestamp) + 1000)).versionId).toBe(v3.versionId);
        expect(Object.isFrozen(await db.getAt('h', 'k', v1.timestamp))).toBe(true);
        await fails(() => db.getAt('h', 'k', Date.parse(v1.timestamp) - 1000), 'KEY_NOT_FOUND');
        await fails(() => db.getAt('h', 'k', 'yesterday-ish'), 'INVALID_ARGUMENT', /not a valid time/);
        await fails(() => db.getAt('h', 'k', new Date(Number.NaN)), 'INVALID_ARGUMENT', /not a valid time/);
        await fails(() => db.history('h', 'k', { limit: -1 }), 'INVALID_ARGUMENT', /limit/);
        await fails(() => db.history('h', 'missing'), 'KEY_NOT_FOUND');
      });

      test('diff: the latest change by default, or between refs (index, version id, Date)', async () => {
        const v1 = await db.put('d', 'k', { a: 1, b: [1] });
        await sleep(5);
        const v2 = await db.put('d', 'k', { a: 2, b: [1], c: true });
        const latest = await db.diff('d', 'k');
        expect(latest.from?.versionId).toBe(v1.versionId);
        expect(latest.to.versionId).toBe(v2.versionId);
        expect(latest.changes).toEqual([
          { kind: 'changed', path: '/a', before: 1, after: 2 },
          { kind: 'added', path: '/c', after: true },
        ]);
        expect(Object.isFrozen(latest) && Object.isFrozen(latest.changes)).toBe(true);
        const first = await db.diff('d', 'k', { to: 0 });
        expect(first.from).toBeNull();
        expect(first.changes).toEqual([{ kind: 'added', path: '', after: { a: 1, b: [1] } }]);
        expect((await db.diff('d', 'k', { from: v1.versionId, to: -1 })).changes).toHaveLength(2);
        expect((await db.diff('d', 'k', { from: new Date(v1.timestamp), to: new Date(v2.timestamp) })).changes).toHaveLength(2);
        await fails(() => db.diff('d', 'k', { from: 'f'.repeat(64) }), 'VERSION_NOT_FOUND');
        await fails(() => db.diff('d', 'k', { from: 7 }), 'INVALID_ARGUMENT', /history index/);
      });

      test('delete writes a tombstone; contains, get, listKeys and history see it', async () => {
        await db.put('t', 'k', 1);
        await db.put('t', 'other', 1);
        const tomb = await db.delete('t', 'k');
        expect(tomb).toMatchObject({ deleted: true, value: null, valueId: null });
        expect(await db.contains('t', 'k')).toBe(false);
        expect(await db.contains('t', 'other')).toBe(true);
        await fails(() => db.get('t', 'k'), 'KEY_NOT_FOUND');
        await fails(() => db.delete('t', 'k'), 'KEY_NOT_FOUND');
        expect(await db.listKeys('t')).toEqual(['other']);
        expect((await db.history('t', 'k')).map((v) => v.deleted)).toEqual([false, true]);
        await fails(() => db.contains('bad ns', 'k'), 'INVALID_NAMESPACE');
      });

      test('putMany is atomic: all stored, or none when one item is bad', async () => {
        const vs = await db.putMany([
          { namespace: 'orders', key: 'o-1', value: { total: 10 } },
          { namespace: 'orders', key: 'o-2', value: { total: 12 } },
        ]);
        expect(vs.map((v) => v.key)).toEqual(['o-1', 'o-2']);
        expect(vs.every((v) => Object.isFrozen(v))).toBe(true);
        await fails(
          () =>
            db.putMany([
              { namespace: 'orders', key: 'o-3', value: 1 },
              { namespace: 'bad ns', key: 'o-4', value: 1 },
            ]),
          'INVALID_NAMESPACE',
        );
        await fails(() => db.putMany([{ namespace: 'orders', key: 'o-3', value: 1, ifVersion: vs[0]!.versionId }]), 'VERSION_CONFLICT');
        await fails(() => db.putMany([{ namespace: 'orders', key: 'o-3', value: undefined }]), 'INVALID_VALUE');
        await fails(() => db.putMany('nope' as never), 'INVALID_ARGUMENT');
        expect(await db.listKeys('orders')).toEqual(['o-1', 'o-2']);
      });

      test('listNamespaces, listKeys sorted; stats and verify', async () => {
        await db.put('b', 'y', 1);
        await db.put('a', 'z', 1);
        await db.put('a', 'x', 1);
        await db.put('a', 'x', 2);
        expect(await db.listNamespaces()).toEqual(['a', 'b']);
        expect(await db.listKeys('a')).toEqual(['x', 'z']);
        expect(await db.listKeys('empty')).toEqual([]);
        expect(await db.stats()).toMatchObject({ keys: 3, versions: 4, namespaces: 2, seq: 4 });
        const report = await db.verify();
        expect(report).toMatchObject({ ok: true, problems: [] });
      });
    });

    describe('bad input fails with the same codes and classes', () => {
      test('names', async () => {
        const e = await fails(() => db.put('bad ns!', 'k', 1), 'INVALID_NAMESPACE', /bad ns!/);
        expect(e).toBeInstanceOf(InvalidNamespaceError);
        await fails(() => db.put('_reserved', 'k', 1), 'INVALID_NAMESPACE');
        await fails(() => db.put('ns', '', 1), 'INVALID_KEY');
        await fails(() => db.get('ns', 'a\u0000b'), 'INVALID_KEY');
        await fails(() => db.put(42 as never, 'k', 1), 'INVALID_NAMESPACE');
      });

      test.each([
        ['undefined', undefined],
        ['NaN', Number.NaN],
        ['a Date', new Date(0)],
        ['a Map', new Map()],
        ['a function inside', { f: () => 1 }],
        ['a BigInt', 1n],
        ['a lone surrogate', '\ud800'],
      ])('values that are not JSON: %s → INVALID_VALUE', async (_name, value) => {
        const e = await fails(() => db.put('ns', 'k', value), 'INVALID_VALUE');
        expect(e).toBeInstanceOf(InvalidValueError);
        expect(await db.contains('ns', 'k')).toBe(false);
      });

      test('a cyclic value → INVALID_VALUE naming the path; too deep → VALUE_TOO_DEEP', async () => {
        const cyclic: Record<string, unknown> = { a: {} };
        (cyclic.a as Record<string, unknown>).back = cyclic;
        await fails(() => db.put('ns', 'k', cyclic), 'INVALID_VALUE', /cyclic/);
        let deep: unknown = 1;
        for (let i = 0; i < 1200; i++) deep = [deep];
        await fails(() => db.put('ns', 'k', deep), 'VALUE_TOO_DEEP');
      });

      test('KEY_NOT_FOUND carries namespace and key', async () => {
        const e = await fails(() => db.get('users', 'nobody'), 'KEY_NOT_FOUND', /users\/nobody/);
        expect(e.details).toMatchObject({ namespace: 'users', key: 'nobody' });
        await fails(() => db.getVersion('users', 'nobody'), 'KEY_NOT_FOUND');
      });
    });

    describe('queries and aggregations', () => {
      beforeEach(async () => {
        await db.putMany([
          { namespace: 'people', key: 'ann', value: { name: 'Ann', age: 31, city: 'Oslo' } },
          { namespace: 'people', key: 'bob', value: { name: 'Bob', age: 25, city: 'Rome' } },
          { namespace: 'people', key: 'cy', value: { name: 'Cy', age: 40, city: 'Oslo' } },
          { namespace: 'people', key: 'di', value: { name: 'Di', age: 17 } },
        ]);
      });

      test('the builder and the wire form give the same frozen result', async () => {
        const built = await db.query('people', Query.new().filter(Filter.gt('age', 20)).sort('age', 'desc').limit(2));
        const wire = await db.query('people', { filter: { age: { $gt: 20 } }, sort: [['age', 'desc']], limit: 2 });
        expect(wire).toEqual(built);
        expect(built.rows.map((r) => r.key)).toEqual(['cy', 'ann']);
        expect(built.total).toBe(3);
        expect(built.explain.strategy).toBe('scan');
        expect(Object.isFrozen(built) && Object.isFrozen(built.rows[0])).toBe(true);
        expect((await db.query('people')).total).toBe(4);
        const projected = await db.query('people', Query.new().select(['name']).sort('name').offset(1).limit(1));
        expect(projected.rows).toEqual([{ key: 'bob', value: { name: 'Bob' } }]);
      });

      test('a query as of a time', async () => {
        await sleep(5);
        const t = new Date();
        await sleep(5);
        await db.put('people', 'eve', { name: 'Eve', age: 50 });
        await db.delete('people', 'ann');
        const then = await db.query('people', Query.new().sort('name'), { at: t });
        expect(then.rows.map((r) => r.key)).toEqual(['ann', 'bob', 'cy', 'di']);
        expect((await db.query('people', {}, { at: t.toISOString() })).total).toBe(4);
        expect((await db.query('people')).total).toBe(4);
      });

      test('INVALID_QUERY names the bad part', async () => {
        const e = await fails(() => db.query('people', { filter: { age: { $bogus: 1 } } }), 'INVALID_QUERY');
        expect(String(e.details.path)).toMatch(/^filter/);
        const e2 = await fails(() => db.query('people', { sortt: [] }), 'INVALID_QUERY');
        expect(e2.details.path).toBe('sortt');
        await fails(() => db.query('people', null), 'INVALID_QUERY');
        await fails(() => db.query('bad ns', {}), 'INVALID_NAMESPACE');
        await fails(() => db.aggregate('people', { op: 'median' } as never), 'INVALID_QUERY');
      });

      test('aggregate with wire and builder filters, groupBy, and as of a time', async () => {
        expect(await db.aggregate('people', Agg.count())).toBe(4);
        expect(await db.aggregate('people', Agg.sum('age'), { filter: { city: 'Oslo' } })).toBe(71);
        expect(await db.aggregate('people', Agg.sum('age'), { filter: Query.new().filter(Filter.eq('city', 'Oslo')) })).toBe(71);
        expect(await db.aggregate('people', Agg.count(), { filter: Query.new() })).toBe(4);
        expect(await db.aggregate('people', Agg.groupBy('city', Agg.count()))).toEqual([
          { group: null, value: 1 },
          { group: 'Oslo', value: 2 },
          { group: 'Rome', value: 1 },
        ]);
        expect(await db.aggregate('people', Agg.avg('nope'))).toBeNull();
        await sleep(5);
        const t = new Date();
        await sleep(5);
        await db.put('people', 'eve', { age: 1 });
        expect(await db.aggregate('people', Agg.count(), { at: t })).toBe(4);
      });

      test('queryHistory by key, time range and filter', async () => {
        await sleep(5);
        const t = new Date();
        await sleep(5);
        await db.put('people', 'ann', { name: 'Ann', age: 32, city: 'Oslo' });
        await db.delete('people', 'bob');
        expect((await db.queryHistory('people', { key: 'ann' })).map((v) => v.value)).toEqual([
          { name: 'Ann', age: 31, city: 'Oslo' },
          { name: 'Ann', age: 32, city: 'Oslo' },
        ]);
        const since = await db.queryHistory('people', { from: t });
        expect(since.map((v) => `${v.key}:${v.deleted}`).sort()).toEqual(['ann:false', 'bob:true']);
        expect((await db.queryHistory('people', { to: t })).length).toBe(4);
        const over30 = await db.queryHistory('people', { filter: Query.new().filter(Filter.gt('age', 30)) });
        expect(over30.map((v) => v.key).sort()).toEqual(['ann', 'ann', 'cy']);
        expect((await db.queryHistory('people', { filter: { age: { $gt: 30 } } })).length).toBe(3);
        expect(over30.every((v) => Object.isFrozen(v))).toBe(true);
      });
    });

    describe('one filter language', () => {
      beforeEach(async () => {
        await db.putMany([
          { namespace: 'people', key: 'ann', value: { name: 'Ann', age: 31, tags: ['a', 'b'], scores: [70, 95] } },
          { namespace: 'people', key: 'bob', value: { name: 'bob', age: 25, tags: [], scores: [88] } },
          { namespace: 'people', key: 'cy', value: { name: 'Cy', age: 40, tags: ['b'] } },
        ]);
      });

      test('a Filter value is accepted by query, aggregate, queryHistory, subscribe and views', async () => {
        const over30 = Filter.gt('age', 30);
        expect((await db.query('people', over30)).total).toBe(2);
        expect((await db.query('people', { filter: over30, sort: [['age', 'desc']] })).rows.map((r) => r.key)).toEqual(['cy', 'ann']);
        expect(await db.aggregate('people', Agg.count(), { filter: over30 })).toBe(2);
        expect((await db.queryHistory('people', { filter: over30 })).map((v) => v.key).sort()).toEqual(['ann', 'cy']);
        expect(await db.aggregate('people', Agg.count(), { filter: { $or: [over30, { name: 'bob' }] } })).toBe(3);
        const seen: string[] = [];
        const sub = db.subscribe({ namespace: 'people', since: 0, filter: over30 }, (e) => {
          if (e.type === 'change') seen.push(e.key);
        });
        await until(() => seen.length === 2, 'two matching changes');
        sub.unsubscribe();
        expect(seen.sort()).toEqual(['ann', 'cy']);
        await db.createView({ name: 'old', namespace: 'people', query: over30 });
        expect((await db.queryView('old')).rows.map((r) => r.key).sort()).toEqual(['ann', 'cy']);
        await db.createView({ name: 'old-count', namespace: 'people', query: Query.new().filter(over30).aggregate(Agg.count()) });
        expect((await db.queryView('old-count')).aggregate).toBe(2);
      });

      test('a query with an aggregation answers { rows: [], total, aggregate }', async () => {
        const r = await db.query('people', Query.new().filter(Filter.size('tags', 1)).aggregate(Agg.sum('age')));
        expect(r).toMatchObject({ rows: [], total: 1, aggregate: 40 });
        expect((await db.query('people', { aggregate: { op: 'max', path: 'age' } })).aggregate).toBe(40);
      });

      test('$nin, $all, $size, $elemMatch, $regex and $not on a field', async () => {
        const keys = async (filter: unknown) => (await db.query('people', { filter, sort: [['name', 'asc']] })).rows.map((r) => r.key);
        expect(await keys({ age: { $nin: [25, 40] } })).toEqual(['ann']);
        expect(await keys(Filter.all('tags', ['b', 'a']))).toEqual(['ann']);
        expect(await keys({ tags: { $size: 0 } })).toEqual(['bob']);
        expect(await keys(Filter.elemMatch('scores', { $gte: 80, $lt: 90 }))).toEqual(['bob']);
        expect(await keys({ name: { $regex: '^B', $options: 'i' } })).toEqual(['bob']);
        expect(await keys({ age: { $not: { $gt: 30 } } })).toEqual(['bob']);
      });

      test('refusals: INVALID_QUERY for a bad filter, INVALID_ARGUMENT for bad options', async () => {
        for (const filter of [{ age: { $bogus: 1 } }, { age: { $in: 5 } }, { name: { $regex: 3 } }, { tags: { $size: 'x' } }, { op: 'gt', path: 'age', value: 1 }]) {
          await fails(() => db.query('people', { filter }), 'INVALID_QUERY');
          await fails(() => db.aggregate('people', Agg.count(), { filter }), 'INVALID_QUERY');
          await fails(() => db.queryHistory('people', { filter }), 'INVALID_QUERY');
          await subscribeFails(() => db.subscribe({ filter }, () => {}), 'INVALID_QUERY');
        }
        await fails(() => db.aggregate('people', Agg.count(), { filter: Query.new().filter(Filter.gt('age', 1)).limit(1) }), 'INVALID_QUERY');
        await fails(() => db.queryHistory('people', 'ann' as never), 'INVALID_ARGUMENT');
        await fails(() => db.queryHistory('people', { filtr: {} } as never), 'INVALID_ARGUMENT');
        await fails(() => db.aggregate('people', Agg.count(), { where: {} } as never), 'INVALID_ARGUMENT');
        await fails(() => db.query('people', {}, { at: 1, limit: 1 } as never), 'INVALID_ARGUMENT');
        await subscribeFails(() => db.subscribe({ namespace: 'people', filtr: {} } as never, () => {}), 'INVALID_ARGUMENT');
        expect(await db.listViews()).toEqual([]);
      });
    });

    describe('indexes and views', () => {
      test('createIndex (idempotent), queries use it, listIndexes, dropIndex', async () => {
        await db.put('p', 'a', { age: 30 });
        await db.put('p', 'b', { age: 40 });
        const info = await db.createIndex('p', 'age');
        expect(info).toMatchObject({ namespace: 'p', field: 'age' });
        expect(info.createdAt).toMatch(ISO_MS);
        expect(await db.createIndex('p', 'age')).toEqual(info);
        const r = await db.query('p', Query.new().filter(Filter.eq('age', 30)));
        expect(r.rows.map((x) => x.key)).toEqual(['a']);
        expect(r.explain).toMatchObject({ strategy: 'index', indexes: ['age'] });
        expect(await db.listIndexes('p')).toEqual([info]);
        expect(await db.listIndexes()).toEqual([info]);
        expect(await db.dropIndex('p', 'age')).toBeUndefined();
        expect(await db.listIndexes()).toEqual([]);
        await fails(() => db.dropIndex('p', 'age'), 'INDEX_NOT_FOUND');
        await fails(() => db.createIndex('bad ns', 'age'), 'INVALID_NAMESPACE');
      });

      test('a manual view shows its last refresh; an auto-refresh one stays current', async () => {
        await db.put('people', 'ann', { name: 'Ann', age: 31 });
        await db.put('people', 'kid', { name: 'Kid', age: 9 });
        const info = await db.createView({ name: 'adults', namespace: 'people', query: Query.new().filter(Filter.gte('age', 18)).sort('name') });
        expect(info).toMatchObject({ name: 'adults', namespace: 'people', autoRefresh: false, query: { filter: { age: { $gte: 18 } }, sort: [['name', 'asc']] } });
        await db.createView({ name: 'count', namespace: 'people', aggregate: Agg.count(), autoRefresh: true });
        expect((await db.queryView('adults')).rows.map((r) => r.key)).toEqual(['ann']);
        await db.put('people', 'bo', { name: 'Bo', age: 50 });
        const stale = await db.queryView('adults');
        expect(stale.rows.map((r) => r.key)).toEqual(['ann']);
        expect(Object.isFrozen(stale)).toBe(true);
        const fresh = await db.refreshView('adults');
        expect(fresh.rows.map((r) => r.key)).toEqual(['ann', 'bo']);
        expect(fresh.total).toBe(2);
        expect((await db.queryView('count')).aggregate).toBe(3);
        expect((await db.listViews()).map((v) => v.name)).toEqual(['adults', 'count']);
        await fails(() => db.createView({ name: 'adults', namespace: 'people' }), 'VIEW_EXISTS');
        expect(await db.deleteView('adults')).toBeUndefined();
        await fails(() => db.queryView('adults'), 'VIEW_NOT_FOUND');
        await fails(() => db.deleteView('adults'), 'VIEW_NOT_FOUND');
        await fails(() => db.refreshView('adults'), 'VIEW_NOT_FOUND');
        await fails(() => db.createView({ name: '_x', namespace: 'people' }), 'INVALID_ARGUMENT');
        await fails(() => db.createView({ name: 'bad', namespace: 'people', query: { filter: { $nope: 1 } } }), 'INVALID_QUERY');
      });
    });

    describe('importVersions', () => {
      test('restores another database’s versions with their ids; refuses ones that do not match', async () => {
        const source = await KoruDelta.start();
        try {
          await source.put('inv', 'k', { n: 1 });
          await source.put('inv', 'k', { n: 2 });
          await source.delete('inv', 'k');
          await source.put('inv', 'j', [1, 2]);
          const exported: Version[] = [];
          for await (const v of source.exportVersions({ namespace: 'inv' })) exported.push(v);
          expect(await db.importVersions(exported)).toBe(4);
          expect((await db.history('inv', 'k')).map((v) => v.versionId)).toEqual((await source.history('inv', 'k')).map((v) => v.versionId));
          expect(await db.get('inv', 'j')).toEqual([1, 2]);
          const bad = { ...exported[3]!, key: 'other', versionId: 'a'.repeat(64) };
          await fails(() => db.importVersions([bad]), 'INVALID_ARGUMENT', /import item 0/);
          expect(await db.importVersions([])).toBe(0);
        } finally {
          await source.close();
        }
      });
    });

    describe('subscriptions', () => {
      test('subscribe: inserts, updates and deletes in commit order, frozen, from now on', async () => {
        await db.put('feed', 'before', 1);
        const events: Array<ChangeEvent | LaggedEvent | PrunedEvent> = [];
        const sub = db.subscribe({ namespace: 'feed' }, (e) => {
          events.push(e);
        });
        // No pause: a change written right after subscribe() is already "from now on".
        const v1 = await db.put('feed', 'a', { n: 1 });
        await db.put('other', 'x', 1);
        await db.put('feed', 'a', { n: 2 });
        await db.delete('feed', 'a');
        await until(() => events.length >= 3, '3 events');
        await sleep(20);
        expect(events.map((e) => (e.type === 'change' ? `${e.changeType}:${e.key}` : e.type))).toEqual(['insert:a', 'update:a', 'delete:a']);
        const [first, second, third] = events as ChangeEvent[];
        expect(first).toEqual({
          type: 'change',
          seq: 2,
          changeType: 'insert',
          namespace: 'feed',
          key: 'a',
          value: { n: 1 },
          previousValue: null,
          versionId: v1.versionId,
          previousVersion: null,
          timestamp: v1.timestamp,
        });
        expect(second).toMatchObject({ seq: 4, previousValue: { n: 1 }, value: { n: 2 } });
        expect(third).toMatchObject({ seq: 5, value: null, previousValue: { n: 2 } });
        expect(events.every((e) => Object.isFrozen(e))).toBe(true);
        sub.unsubscribe();
        await sub.done;
        await db.put('feed', 'late', 1);
        await sleep(50);
        expect(events).toHaveLength(3);
      });

      test('since replays, then live changes follow with no gap or duplicate; filter and types select', async () => {
        for (let i = 1; i <= 5; i++) await db.put('r', `k${i}`, { i });
        const seqs: number[] = [];
        const sub = db.subscribe({ namespace: 'r', since: 2 }, (e) => {
          seqs.push(e.seq);
        });
        const big: string[] = [];
        const filtered = db.subscribe({ namespace: 'r', since: 0, filter: Query.new().filter(Filter.gte('i', 4)), types: ['insert'] }, (e) => {
          if (e.type === 'change') big.push(e.key);
        });
        const wire: string[] = [];
        const wireFiltered = db.subscribe({ since: 0, filter: { i: { $lt: 2 } } }, (e) => {
          if (e.type === 'change') wire.push(e.key);
        });
        await until(() => seqs.length === 3, 'the replay');
        for (let i = 6; i <= 7; i++) await db.put('r', `k${i}`, { i });
        await db.put('r', 'k4', { i: 40 }); // an update: not an insert
        await until(() => seqs.length === 6 && big.length === 4, 'live events');
        await sleep(30);
        expect(seqs).toEqual([3, 4, 5, 6, 7, 8]);
        expect(big).toEqual(['k4', 'k5', 'k6', 'k7']);
        expect(wire).toEqual(['k1']);
        for (const s of [sub, filtered, wireFiltered]) s.unsubscribe();
        await Promise.all([sub.done, filtered.done, wireFiltered.done]);
      });

      test('until ends a replay; an async handler is awaited before the next event', async () => {
        for (let i = 1; i <= 4; i++) await db.put('u', `k${i}`, i);
        const seen: number[] = [];
        const ranged = db.subscribe({ since: 1, until: 3 }, (e) => {
          seen.push(e.seq);
        });
        await ranged.done;
        expect(seen).toEqual([2, 3]);
        const log: string[] = [];
        const slow = db.subscribe({ namespace: 'u', since: 0 }, async (e) => {
          log.push(`start ${e.seq}`);
          await sleep(5);
          log.push(`end ${e.seq}`);
        });
        await until(() => log.length === 8, 'the slow handler');
        expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3', 'start 4', 'end 4']);
        slow.unsubscribe();
        await slow.done;
      });

      test('a handler that throws ends the subscription: done rejects with its error', async () => {
        const boom = new Error('boom');
        const sub = db.subscribe({}, () => {
          throw boom;
        });
        await sleep(30);
        await db.put('x', 'k', 1);
        await expect(sub.done).rejects.toBe(boom);
        const rejecting = db.subscribe({ since: 0 }, async () => {
          throw boom;
        });
        await expect(rejecting.done).rejects.toBe(boom);
      });

      test('a subscriber more than bufferSize behind gets one lagged event and ends', async () => {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const events: Array<ChangeEvent | LaggedEvent | PrunedEvent> = [];
        const sub = db.subscribe({ namespace: 'lag', bufferSize: 2 }, async (e) => {
          events.push(e);
          await gate;
        });
        await sleep(50);
        for (let i = 1; i <= 6; i++) await db.put('lag', `k${i}`, i);
        await until(() => events.length === 1, 'the first event');
        await sleep(100);
        release();
        await sub.done;
        expect(events).toHaveLength(2);
        expect(events[0]).toMatchObject({ type: 'change', seq: 1 });
        expect(events[1]).toMatchObject({ type: 'lagged', seq: 1 });
        expect((events[1] as LaggedEvent).behind).toBeGreaterThan(2);
      });

      test('a bad spec is refused with its code', async () => {
        await subscribeFails(() => db.subscribe({ namespace: 'bad ns' }, () => {}), 'INVALID_NAMESPACE');
        await subscribeFails(() => db.subscribe({ key: 'k' }, () => {}), 'INVALID_ARGUMENT');
        await subscribeFails(() => db.subscribe({ since: 99 }, () => {}), 'INVALID_ARGUMENT');
        await subscribeFails(() => db.subscribe({ filter: { $bad: 1 } }, () => {}), 'INVALID_QUERY');
        expect(() => db.subscribe({}, 'nope' as never)).toThrow(/handler/);
      });

      test('changes(): an async iterator with since; return() releases it', async () => {
        await db.put('it', 'a', 1);
        await db.put('it', 'b', 2);
        const it = db.changes({ namespace: 'it', since: 0 });
        const got: string[] = [];
        for await (const e of it) {
          if (e.type === 'change') got.push(`${e.seq}:${e.key}`);
          if (got.length === 2) void db.put('it', 'c', 3);
          if (got.length === 3) break;
        }
        expect(got).toEqual(['1:a', '2:b', '3:c']);
        expect(await it.next()).toEqual({ done: true, value: undefined });
      });

      test('changes() with a bad spec fails at once (embedded) or on the first next() (remote)', async () => {
        let it: AsyncIterableIterator<unknown>;
        try {
          it = db.changes({ namespace: 'bad ns' });
        } catch (e) {
          expect((e as KoruError).code).toBe('INVALID_NAMESPACE');
          return;
        }
        await expect(it.next()).rejects.toMatchObject({ code: 'INVALID_NAMESPACE' });
      });
    });

    test('after close, calls fail with CLOSED', async () => {
      await db.put('c', 'k', 1);
      const sub = db.subscribe({}, () => {});
      await db.close();
      await sub.done;
      await fails(() => db.get('c', 'k'), 'CLOSED');
      await fails(() => db.put('c', 'k', 2), 'CLOSED');
    });
  });
}
