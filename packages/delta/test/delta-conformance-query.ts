// The conformance suite's queries, aggregates, query history and views (see
// ./delta-conformance.ts). Answers are checked against expectations written from
// KoruDelta's rules (compareJson's order across types) and against an embedded
// in-memory database holding the same documents: whole rows and totals.
import { expect, it } from 'vitest';
import { Agg, compareJson, type JsonValue, type KoruDelta, type QueryResult } from '@koru/delta';
import { expectKoruError } from './support.js';
import { openMemory, sleep, type ConformanceContext } from './delta-conformance-support.js';

/** Documents whose field `v` holds every JSON type, so one field is compared across types. */
export const MIXED: ReadonlyArray<readonly [string, JsonValue]> = [
  ['null', { v: null, n: { x: 1 }, tags: ['a', 'b'], name: 'Nul', grp: 'g1', amt: 5 }],
  ['neg', { v: -1, n: { x: 2 }, tags: ['b'], name: 'Neg', grp: 'g1', amt: 7.5 }],
  ['zero', { v: 0, n: { x: 'two' }, tags: [], name: 'Zero', grp: 'g2', amt: -2 }],
  ['num', { v: 2.5, n: { x: 3, y: [1, 2] }, tags: ['c', 'a'], name: 'num', grp: 'g2', amt: 10 }],
  ['ten', { v: 10, n: null, tags: ['a'], name: 'Ten', grp: 'g3', amt: '11' }],
  ['emptystr', { v: '', n: { x: true }, name: '', grp: 'g3', amt: 1 }],
  ['str-a', { v: 'a', n: { x: [1] }, tags: ['a', 'a'], name: 'A', grp: 'g1', amt: 2 }],
  ['str-b', { v: 'b', n: { x: { deep: 1 } }, tags: ['z'], name: 'B', grp: 'g2' }],
  ['str-e', { v: 'é', n: {}, tags: 'a', name: 'é', grp: 'g1', amt: 3 }],
  ['str-astral', { v: '😀', name: '😀', grp: 'g3', amt: 4 }],
  ['str-nul', { v: 'a\u0000b', n: { x: 'a\u0000' }, tags: ['\u0000'], name: 'nul\u0000', grp: 'g\u0000', amt: 6 }],
  ['false', { v: false, name: 'F', grp: 'g2', amt: 0 }],
  ['true', { v: true, name: 'T', grp: 'g2', amt: 1 }],
  ['arr-empty', { v: [], name: 'ae', amt: 1 }],
  ['arr-1', { v: [1], name: 'a1', amt: 1 }],
  ['arr-12', { v: [1, 2], name: 'a12', amt: 1 }],
  ['arr-str', { v: ['a'], name: 'as', amt: 1 }],
  ['obj-empty', { v: {}, name: 'oe', amt: 1 }],
  ['obj-a', { v: { a: 1 }, name: 'oa', amt: 1 }],
  ['missing', { w: 1, name: 'Missing', grp: 'g1', amt: 9 }],
  ['scalar', 5],
  ['arr-doc', [1, 2]],
  // Strings whose UTF-16 order and UTF-8 byte order differ, one past the 400 characters
  // an index keeps, and numbers at the edges of what a double holds.
  ['str-e000', { v: '\uE000x', name: '\uE000' }],
  ['str-ffff', { v: '\uFFFF', name: '\uFFFF' }],
  ['str-long', { v: 'b'.repeat(450), name: 'b'.repeat(401) }],
  ['str-long2', { v: `${'b'.repeat(450)}a`, name: 'long2' }],
  ['big', { v: 1e300, name: 'big', amt: 1e21 }],
  ['tiny', { v: -1e-7, name: 'tiny', amt: 2 ** 53 + 2 }],
  ['nested', { v: 7, n: { x: 7, y: [3, 4] }, tags: ['x', 'y', 'z'], name: 'Nested', grp: 'g3', amt: 100 }],
];

async function load(db: KoruDelta, ns: string, docs: ReadonlyArray<readonly [string, JsonValue]> = MIXED): Promise<void> {
  for (const [k, v] of docs) await db.put(ns, k, v);
}

/** A query's answer without `explain` (which says how it ran, and may differ by store). */
function answer(r: QueryResult): { rows: QueryResult['rows']; total: number; aggregate?: JsonValue } {
  return { rows: r.rows, total: r.total, ...(Object.hasOwn(r, 'aggregate') ? { aggregate: r.aggregate! } : {}) };
}

const fieldOf = (doc: JsonValue, path: string): JsonValue | undefined => {
  let x: JsonValue | undefined = doc;
  for (const seg of path.split('.')) {
    if (Array.isArray(x) && /^\d+$/.test(seg)) x = x[Number(seg)];
    else if (x !== null && typeof x === 'object' && !Array.isArray(x) && Object.hasOwn(x, seg)) x = (x as Record<string, JsonValue>)[seg];
    else return undefined;
  }
  return x;
};

/** Keys of MIXED whose `path` compares to `operand` as `test` says, by KoruDelta's order across types. */
function byOrder(path: string, operand: JsonValue, test: (c: number) => boolean): string[] {
  return MIXED.filter(([, d]) => {
    const x = fieldOf(d, path);
    return x !== undefined && test(compareJson(x, operand));
  })
    .map(([k]) => k)
    .sort();
}

/** Filters of every operator; `keys` is the expected answer where it is written out. */
export const FILTERS: ReadonlyArray<{ readonly name: string; readonly filter: JsonValue; readonly keys?: readonly string[] }> = [
  { name: 'eq number', filter: { v: 10 }, keys: ['ten'] },
  { name: 'eq null', filter: { v: null }, keys: ['null'] },
  { name: 'eq string with U+0000', filter: { v: 'a\u0000b' }, keys: ['str-nul'] },
  { name: 'eq array', filter: { v: [1, 2] }, keys: ['arr-12'] },
  { name: 'eq object', filter: { v: { a: 1 } }, keys: ['obj-a'] },
  { name: 'eq boolean', filter: { v: { $eq: false } }, keys: ['false'] },
  { name: 'eq astral', filter: { v: '😀' }, keys: ['str-astral'] },
  { name: 'ne', filter: { v: { $ne: 10 } } },
  { name: 'ne null', filter: { v: { $ne: null } } },
  { name: 'gt 0', filter: { v: { $gt: 0 } }, keys: byOrder('v', 0, (c) => c > 0) },
  { name: 'gte 0', filter: { v: { $gte: 0 } }, keys: byOrder('v', 0, (c) => c >= 0) },
  { name: 'lt "a"', filter: { v: { $lt: 'a' } }, keys: byOrder('v', 'a', (c) => c < 0) },
  { name: 'lte "a"', filter: { v: { $lte: 'a' } }, keys: byOrder('v', 'a', (c) => c <= 0) },
  { name: 'gt "a"', filter: { v: { $gt: 'a' } }, keys: byOrder('v', 'a', (c) => c > 0) },
  { name: 'gt "é"', filter: { v: { $gt: 'é' } }, keys: byOrder('v', 'é', (c) => c > 0) },
  { name: 'lt astral', filter: { v: { $lt: '😀' } }, keys: byOrder('v', '😀', (c) => c < 0) },
  { name: 'gt U+E000', filter: { v: { $gt: '\uE000' } }, keys: byOrder('v', '\uE000', (c) => c > 0) },
  { name: 'lte a long string', filter: { v: { $lte: 'b'.repeat(450) } }, keys: byOrder('v', 'b'.repeat(450), (c) => c <= 0) },
  { name: 'gt a long string', filter: { v: { $gt: 'b'.repeat(450) } }, keys: byOrder('v', 'b'.repeat(450), (c) => c > 0) },
  { name: 'gt "bbb"', filter: { v: { $gt: 'bbb' } }, keys: byOrder('v', 'bbb', (c) => c > 0) },
  { name: 'eq a long string', filter: { v: 'b'.repeat(450) }, keys: ['str-long'] },
  { name: 'gte 1e300', filter: { v: { $gte: 1e300 } }, keys: byOrder('v', 1e300, (c) => c >= 0) },
  { name: 'lt -1e-8', filter: { v: { $lt: -1e-8 } }, keys: byOrder('v', -1e-8, (c) => c < 0) },
  { name: 'eq 2^53+2', filter: { amt: 2 ** 53 + 2 }, keys: ['tiny'] },
  { name: 'gte true', filter: { v: { $gte: true } }, keys: byOrder('v', true, (c) => c >= 0) },
  { name: 'gt false', filter: { v: { $gt: false } }, keys: byOrder('v', false, (c) => c > 0) },
  { name: 'lte null', filter: { v: { $lte: null } }, keys: byOrder('v', null, (c) => c <= 0) },
  { name: 'gt null', filter: { v: { $gt: null } }, keys: byOrder('v', null, (c) => c > 0) },
  { name: 'lt [1,2]', filter: { v: { $lt: [1, 2] } }, keys: byOrder('v', [1, 2], (c) => c < 0) },
  { name: 'gte []', filter: { v: { $gte: [] } }, keys: byOrder('v', [], (c) => c >= 0) },
  { name: 'gt {}', filter: { v: { $gt: {} } }, keys: byOrder('v', {}, (c) => c > 0) },
  { name: 'lt {}', filter: { v: { $lt: {} } }, keys: byOrder('v', {}, (c) => c < 0) },
  { name: 'range of numbers', filter: { v: { $gt: -1, $lte: 10 } }, keys: byOrder('v', -1, (c) => c > 0).filter((k) => byOrder('v', 10, (c) => c <= 0).includes(k)) },
  { name: 'range across numbers and strings', filter: { v: { $gte: 2.5, $lt: 'b' } } },
  { name: 'in', filter: { v: { $in: [10, 'a', null, [1], true, { a: 1 }] } }, keys: ['arr-1', 'null', 'obj-a', 'str-a', 'ten', 'true'] },
  { name: 'nin', filter: { v: { $nin: [10, 'a', null] } } },
  { name: 'exists', filter: { v: { $exists: true } } },
  { name: 'not exists', filter: { v: { $exists: false } } },
  { name: 'contains in an array', filter: { tags: { $contains: 'a' } } },
  { name: 'contains in a string', filter: { name: { $contains: 'u' } } },
  { name: 'contains U+0000', filter: { name: { $contains: '\u0000' } }, keys: ['str-nul'] },
  { name: 'matches', filter: { name: { $matches: '^[A-Z]' } } },
  { name: 'matches with flags', filter: { name: { $regex: '^n', $options: 'i' } } },
  { name: 'and', filter: { $and: [{ grp: 'g1' }, { amt: { $gte: 3 } }] } },
  { name: 'or', filter: { $or: [{ v: { $lt: 0 } }, { name: 'T' }, { grp: 'g\u0000' }] } },
  { name: 'not', filter: { $not: { grp: 'g2' } } },
  { name: 'not on a field', filter: { amt: { $not: { $gt: 3 } } } },
  { name: 'nested path', filter: { 'n.x': { $gte: 2 } } },
  { name: 'nested path eq', filter: { 'n.x': 7 }, keys: ['nested'] },
  { name: 'nested path to null parent', filter: { 'n.x': { $exists: false } } },
  { name: 'array index path', filter: { 'tags.0': 'a' } },
  { name: 'array index range', filter: { 'n.y.1': { $gt: 2 } }, keys: ['nested'] },
  { name: 'size', filter: { tags: { $size: 2 } } },
  { name: 'all', filter: { tags: { $all: ['a', 'b'] } }, keys: ['null'] },
  { name: 'elemMatch', filter: { 'n.y': { $elemMatch: { $gt: 3 } } } },
  { name: 'numbers on a mixed amount field', filter: { amt: { $gt: 5 } } },
  { name: 'everything', filter: {} },
];

/** Indexes the query tests create, so the same filters run again through them. */
export const INDEXED_FIELDS = ['v', 'n.x', 'tags.0', 'name', 'amt', 'grp'];

/** Registers the tests of queries (with and without indexes), aggregates, query history and views. */
export function queryConformance(ctx: ConformanceContext): void {
  it('query: filters of every operator across mixed types, the same with secondary indexes', async () => {
    const db = ctx.db();
    const ref = await ctx.fresh(openMemory);
    await load(db, 'q');
    await load(ref, 'q');
    const before = new Map<string, unknown>();
    for (const f of FILTERS) {
      const got = answer(await db.query('q', { filter: f.filter }));
      const want = answer(await ref.query('q', { filter: f.filter }));
      expect(got, f.name).toEqual(want);
      if (f.keys !== undefined) expect(got.rows.map((r) => r.key), f.name).toEqual([...f.keys].sort());
      for (const row of got.rows) expect(row.value, `${f.name}: ${row.key}`).toEqual(MIXED.find(([k]) => k === row.key)![1]);
      before.set(f.name, got);
    }
    for (const field of INDEXED_FIELDS) {
      const info = await db.createIndex('q', field);
      expect({ namespace: info.namespace, field: info.field }).toEqual({ namespace: 'q', field });
    }
    expect((await db.listIndexes('q')).map((i) => i.field)).toEqual([...INDEXED_FIELDS].sort());
    expect(await db.createIndex('q', 'v')).toEqual((await db.listIndexes('q')).find((i) => i.field === 'v'));
    const indexedEq = await db.query('q', { filter: { v: 10 } });
    expect(indexedEq.explain).toMatchObject({ strategy: 'index', indexes: ['v'] });
    for (const f of FILTERS) expect(answer(await db.query('q', { filter: f.filter })), `${f.name}, indexed`).toEqual(before.get(f.name));
    // Writes after the index was made are found through it.
    await db.put('q', 'late', { v: 10, name: 'Late' });
    await db.delete('q', 'ten');
    expect((await db.query('q', { filter: { v: 10 } })).rows.map((r) => r.key)).toEqual(['late']);
    await db.dropIndex('q', 'v');
    await expectKoruError(() => db.dropIndex('q', 'v'), 'INDEX_NOT_FOUND');
    expect((await db.query('q', { filter: { v: 10 } })).rows.map((r) => r.key)).toEqual(['late']);
  });

  it('query: sort, limit, offset and select', async () => {
    const db = ctx.db();
    const ref = await ctx.fresh(openMemory);
    await load(db, 's');
    await load(ref, 's');
    const queries: JsonValue[] = [
      { sort: [['v', 'asc']] },
      { sort: [['v', 'desc']], limit: 5 },
      { filter: { v: { $exists: true } }, sort: [['v', 'asc']], offset: 3, limit: 4, select: ['v', 'name'] },
      { sort: [['grp', 'asc'], ['amt', 'desc']], select: ['grp', 'amt', 'n.x'] },
      { sort: [['n.x', 'asc']], offset: 20 },
      { filter: { grp: { $in: ['g1', 'g2'] } }, sort: [['name', 'desc']], limit: 3, offset: 1 },
      { offset: 100 },
      { limit: 2 },
    ];
    for (const q of queries) expect(answer(await db.query('s', q)), JSON.stringify(q)).toEqual(answer(await ref.query('s', q)));
    const sorted = await db.query('s', { filter: { v: { $exists: true } }, sort: [['v', 'asc']] });
    const vs = sorted.rows.map((r) => (r.value as { v: JsonValue }).v);
    for (let i = 1; i < vs.length; i++) expect(compareJson(vs[i - 1]!, vs[i]!), `sorted row ${i}`).toBeLessThanOrEqual(0);
    const page = await db.query('s', { filter: { v: { $exists: true } }, sort: [['v', 'asc']], offset: 3, limit: 4, select: ['v', 'name'] });
    expect(page.total).toBe(sorted.total);
    expect(page.rows).toEqual(sorted.rows.slice(3, 7).map((r) => ({ key: r.key, value: { v: (r.value as { v: JsonValue }).v, name: (r.value as { name: JsonValue }).name } })));
    for (const field of ['v', 'grp']) await db.createIndex('s', field);
    for (const q of queries) expect(answer(await db.query('s', q)), `${JSON.stringify(q)}, indexed`).toEqual(answer(await ref.query('s', q)));
  });

  it('query with at: the namespace as it was', async () => {
    const db = ctx.db();
    await load(db, 'tt');
    const filters: JsonValue[] = [{}, { v: { $gt: 0 } }, { name: { $matches: '^[a-z]' } }, { grp: 'g1' }];
    const then = await Promise.all(filters.map(async (f) => answer(await db.query('tt', { filter: f }))));
    await sleep(3);
    const at = Date.now();
    await sleep(3);
    await db.put('tt', 'neg', { v: 100, grp: 'g1', name: 'changed' });
    await db.delete('tt', 'str-a');
    await db.put('tt', 'brand-new', { v: 1, grp: 'g1', name: 'new' });
    for (const [i, f] of filters.entries()) {
      expect(answer(await db.query('tt', { filter: f }, { at })), JSON.stringify(f)).toEqual(then[i]);
      expect(answer(await db.query('tt', { filter: f }, { at: new Date(at).toISOString() }))).toEqual(then[i]);
    }
    expect((await db.query('tt', {}, { at: 0 })).rows).toEqual([]);
    expect((await db.query('tt', { filter: { grp: 'g1' } })).rows.map((r) => r.key)).toEqual(['brand-new', 'missing', 'neg', 'null', 'str-e']);
    expect(await db.aggregate('tt', Agg.count(), { at })).toBe(MIXED.length);
    await expectKoruError(() => db.query('tt', {}, { when: at } as never), 'INVALID_ARGUMENT');
  });

  it('aggregate: count, sum, avg, min, max, distinct, groupBy, with a filter', async () => {
    const db = ctx.db();
    const ref = await ctx.fresh(openMemory);
    await load(db, 'ag');
    await load(ref, 'ag');
    const g1 = { grp: 'g1' };
    expect(await db.aggregate('ag', Agg.count())).toBe(MIXED.length);
    expect(await db.aggregate('ag', Agg.count(), { filter: g1 })).toBe(5);
    expect(await db.aggregate('ag', Agg.sum('amt'), { filter: g1 })).toBe(5 + 7.5 + 2 + 3 + 9);
    expect(await db.aggregate('ag', Agg.avg('amt'), { filter: g1 })).toBe((5 + 7.5 + 2 + 3 + 9) / 5);
    expect(await db.aggregate('ag', Agg.min('v'), { filter: g1 })).toBe(null);
    expect(await db.aggregate('ag', Agg.max('v'), { filter: g1 })).toBe('é');
    expect(await db.aggregate('ag', Agg.distinct('grp'), { filter: { amt: { $gte: 5 } } })).toEqual(await ref.aggregate('ag', Agg.distinct('grp'), { filter: { amt: { $gte: 5 } } }));
    const aggs = [
      Agg.sum('amt'),
      Agg.avg('amt'),
      Agg.min('amt'),
      Agg.max('amt'),
      Agg.min('v'),
      Agg.max('v'),
      Agg.distinct('v'),
      Agg.distinct('grp'),
      Agg.count('n.x'),
      Agg.groupBy('grp', Agg.count()),
      Agg.groupBy('grp', Agg.sum('amt')),
      Agg.groupBy('v', Agg.max('name')),
    ];
    for (const filter of [undefined, { amt: { $gt: 1 } }, { v: { $lt: 'b' } }, { name: { $matches: 'e' } }]) {
      for (const agg of aggs) {
        const options = filter === undefined ? {} : { filter };
        expect(await db.aggregate('ag', agg, options), `${JSON.stringify(agg)} ${JSON.stringify(filter)}`).toEqual(await ref.aggregate('ag', agg, options));
      }
    }
    const viaQuery = await db.query('ag', { filter: g1, aggregate: { op: 'sum', path: 'amt' } });
    expect(answer(viaQuery)).toEqual({ rows: [], total: 5, aggregate: 26.5 });
    await expectKoruError(() => db.aggregate('ag', { op: 'median' } as never), 'INVALID_QUERY');
  });

  it('queryHistory: by key, by time, by filter', async () => {
    const db = ctx.db();
    const a1 = await db.put('qh', 'a', { n: 1 });
    const b1 = await db.put('qh', 'b', { n: 10 });
    await sleep(3);
    const mid = Date.now();
    await sleep(3);
    const a2 = await db.put('qh', 'a', { n: 2 });
    const bDel = await db.delete('qh', 'b');
    const a3 = await db.put('qh', 'a', { n: 3, s: 'x\u0000' });
    await db.put('other', 'a', { n: 1 });
    const all = await db.queryHistory('qh');
    expect(all).toEqual([a1, a2, a3, b1, bDel]);
    expect(await db.queryHistory('qh', { key: 'a' })).toEqual([a1, a2, a3]);
    expect(await db.queryHistory('qh', { from: mid })).toEqual([a2, a3, bDel]);
    expect(await db.queryHistory('qh', { to: mid })).toEqual([a1, b1]);
    expect(await db.queryHistory('qh', { filter: { n: { $gte: 2 } } })).toEqual([a2, a3, b1]);
    expect(await db.queryHistory('qh', { key: 'a', from: mid, filter: { s: 'x\u0000' } })).toEqual([a3]);
    expect(await db.queryHistory('empty')).toEqual([]);
    await expectKoruError(() => db.queryHistory('qh', { key: 'none' }), 'KEY_NOT_FOUND');
    await expectKoruError(() => db.queryHistory('qh', 'a' as never), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.queryHistory('qh', { since: 1 } as never), 'INVALID_ARGUMENT');
  });

  it('views: create, list, refresh, query, delete; autoRefresh true and false', async () => {
    const db = ctx.db();
    await load(db, 'vw');
    const manual = await db.createView({ name: 'cheap', namespace: 'vw', query: { filter: { amt: { $lt: 3 } }, sort: [['amt', 'asc']], select: ['amt'] } });
    const live = await db.createView({ name: 'live-count', namespace: 'vw', query: { filter: { grp: 'g1' } }, aggregate: Agg.count(), autoRefresh: true });
    const liveRows = await db.createView({ name: 'live-rows', namespace: 'vw', query: { filter: { v: { $gte: 'a' } } }, autoRefresh: true, description: 'strings and up' });
    expect((await db.listViews()).map((v) => v.name)).toEqual(['cheap', 'live-count', 'live-rows']);
    expect(await db.listViews()).toEqual([manual, live, liveRows]);
    await expectKoruError(() => db.createView({ name: 'cheap', namespace: 'vw' }), 'VIEW_EXISTS');

    const cheapNow = answer(await db.query('vw', { filter: { amt: { $lt: 3 } }, sort: [['amt', 'asc']], select: ['amt'] }));
    const first = await db.queryView('cheap');
    expect({ rows: first.rows, total: first.total }).toEqual(cheapNow);
    expect(first.name).toBe('cheap');
    expect(await db.queryView('live-count')).toMatchObject({ name: 'live-count', rows: [], total: 5, aggregate: 5 });

    await db.put('vw', 'cheap-new', { amt: -10, grp: 'g1', v: 'zz' });
    // The manual view shows its last refresh; the live ones the data now.
    const stale = await db.queryView('cheap');
    expect({ rows: stale.rows, total: stale.total }).toEqual(cheapNow);
    expect(await db.queryView('live-count')).toMatchObject({ rows: [], total: 6, aggregate: 6 });
    const liveAnswer = await db.queryView('live-rows');
    expect({ rows: liveAnswer.rows, total: liveAnswer.total }).toEqual(answer(await db.query('vw', { filter: { v: { $gte: 'a' } } })));
    expect(liveAnswer.rows.map((r) => r.key)).toContain('cheap-new');
    expect(liveAnswer.seq).toBe(db.seq);

    const seqBefore = db.seq;
    const refreshed = await db.refreshView('cheap');
    const cheapAfter = answer(await db.query('vw', { filter: { amt: { $lt: 3 } }, sort: [['amt', 'asc']], select: ['amt'] }));
    expect({ rows: refreshed.rows, total: refreshed.total }).toEqual(cheapAfter);
    expect(refreshed.rows[0]).toEqual({ key: 'cheap-new', value: { amt: -10 } });
    expect(refreshed.seq).toBe(seqBefore);
    const again = await db.queryView('cheap');
    expect({ rows: again.rows, total: again.total, seq: again.seq, refreshedAt: again.refreshedAt }).toEqual({
      rows: refreshed.rows,
      total: refreshed.total,
      seq: refreshed.seq,
      refreshedAt: refreshed.refreshedAt,
    });

    await db.deleteView('cheap');
    await expectKoruError(() => db.queryView('cheap'), 'VIEW_NOT_FOUND');
    await expectKoruError(() => db.refreshView('cheap'), 'VIEW_NOT_FOUND');
    await expectKoruError(() => db.deleteView('cheap'), 'VIEW_NOT_FOUND');
    expect((await db.listViews()).map((v) => v.name)).toEqual(['live-count', 'live-rows']);
    // U+0000 in a view's definition and in its rows.
    const nulQuery = { filter: { $or: [{ grp: 'g\u0000' }, { name: { $contains: '\u0000' } }] } };
    const nul = await db.createView({ name: 'nul', namespace: 'vw', query: nulQuery });
    expect((await db.listViews()).find((v) => v.name === 'nul')).toEqual(nul);
    const nulView = await db.queryView('nul');
    expect({ rows: nulView.rows, total: nulView.total }).toEqual(answer(await db.query('vw', nulQuery)));
    expect(nulView.rows.map((r) => r.key)).toEqual(['str-nul']);
    expect((await db.refreshView('nul')).rows).toEqual(nulView.rows);
    await expectKoruError(() => db.createView({ name: '_bad', namespace: 'vw' }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.createView({ name: 'bad-query', namespace: 'vw', query: { filter: { $bogus: 1 } } }), 'INVALID_QUERY');
  });
}
