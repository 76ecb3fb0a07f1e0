// One filter language: a Filter, a Query and the wire form are accepted wherever the
// database takes a filter; anything else is refused with a code, never matched as nothing.
import { Agg, Aggregation, Filter, KoruDelta, Query, type ChangeEvent, type LaggedEvent } from '@koru/delta';
import { describe, expect, it } from 'vitest';
import { expectKoruError } from './support.js';

async function people() {
  const db = await KoruDelta.start();
  await db.put('users', 'alice', { name: 'Alice', age: 34, city: 'Paris', tags: ['admin', 'ops'], scores: [70, 95] });
  await db.put('users', 'bob', { name: 'Bob', age: 17, city: 'Lyon', tags: [], scores: [88] });
  await db.put('users', 'carol', { name: 'carol', age: 41, city: 'Paris', tags: ['ops'], scores: [] });
  await db.put('users', 'dave', { name: 'Dave' });
  return db;
}

const adults = Filter.gt('age', 18);
const wireAdults = { age: { $gt: 18 } };

describe('a Filter where a filter is taken', () => {
  it('aggregate: a Filter, a Query and the wire form select the same documents', async () => {
    const db = await people();
    for (const filter of [adults, Query.new().filter(adults), wireAdults]) {
      expect(await db.aggregate('users', Agg.count(), { filter })).toBe(2);
    }
    await db.close();
  });

  it('queryHistory: a Filter, a Query and the wire form select the same versions', async () => {
    const db = await people();
    await db.put('users', 'bob', { name: 'Bob', age: 19, city: 'Lyon' });
    for (const filter of [adults, Query.new().filter(adults), wireAdults]) {
      const found = await db.queryHistory('users', { filter });
      expect(found.map((v) => v.key).sort()).toEqual(['alice', 'bob', 'carol']);
      expect(await db.queryHistory('users', { key: 'bob', filter })).toHaveLength(1);
    }
    await db.close();
  });

  it('subscribe and changes: a Filter selects changes as the wire form does', async () => {
    const db = await people();
    const since = db.seq;
    await db.put('users', 'erin', { age: 30 });
    await db.put('users', 'finn', { age: 3 });
    for (const filter of [adults, Query.new().filter(adults), wireAdults]) {
      const seen: string[] = [];
      const sub = db.subscribe({ namespace: 'users', since, until: db.seq, filter }, (e: ChangeEvent | LaggedEvent) => {
        if (e.type === 'change') seen.push(e.key);
      });
      await sub.done;
      expect(seen).toEqual(['erin']);
      const keys: string[] = [];
      for await (const e of db.changes({ since, until: db.seq, filter })) if (e.type === 'change') keys.push(e.key);
      expect(keys).toEqual(['erin']);
    }
    await db.close();
  });

  it('views: a Filter as the query, a Query with an aggregation, or the wire form holding a Filter', async () => {
    const db = await people();
    await db.createView({ name: 'adults', namespace: 'users', query: adults, autoRefresh: true });
    await db.createView({ name: 'adults-wire', namespace: 'users', query: { filter: adults, sort: [['name', 'asc']] } });
    await db.createView({ name: 'adults-count', namespace: 'users', query: Query.new().filter(adults).aggregate(Agg.count()), autoRefresh: true });
    expect((await db.queryView('adults')).rows.map((r) => r.key).sort()).toEqual(['alice', 'carol']);
    expect((await db.queryView('adults-wire')).rows.map((r) => r.key)).toEqual(['alice', 'carol']);
    expect((await db.queryView('adults-count')).aggregate).toBe(2);
    await db.put('users', 'gus', { age: 60 });
    expect((await db.queryView('adults-count')).aggregate).toBe(3);
    const info = (await db.listViews()).find((v) => v.name === 'adults-count')!;
    expect(info.query).toEqual({ filter: { age: { $gt: 18 } } });
    expect(info.aggregate).toEqual({ op: 'count' });
    await db.close();
  });

  it('query: a Filter is a query with that filter; the wire form may hold Filters', async () => {
    const db = await people();
    expect((await db.query('users', adults)).total).toBe(2);
    expect((await db.query('users', { filter: { $or: [adults, { name: 'Dave' }] } })).total).toBe(3);
    await db.close();
  });
});

describe('new operators through the database', () => {
  it('$nin, $all, $size, $elemMatch, $regex, $not: the same rows through an index as by a scan', async () => {
    const cases: Array<[unknown, string[]]> = [
      [{ city: { $nin: ['Paris'] } }, ['bob', 'dave']],
      [{ tags: { $all: ['ops', 'admin'] } }, ['alice']],
      [{ tags: { $size: 0 } }, ['bob']],
      [{ scores: { $elemMatch: { $gte: 80, $lt: 90 } } }, ['bob']],
      [{ name: { $regex: '^c', $options: 'i' } }, ['carol']],
      [{ age: { $not: { $gte: 18 } } }, ['bob', 'dave']],
      [{ city: 'Paris', tags: { $size: 1 } }, ['carol']],
      [Filter.and(Filter.in('city', ['Paris', 'Lyon']), Filter.elemMatch('scores', { $gt: 90 })), ['alice']],
      [Filter.and(Filter.gte('age', 18), Filter.nin('name', ['Alice'])), ['carol']],
    ];
    const db = await people();
    const scans = await Promise.all(cases.map(([filter]) => db.query('users', { filter, sort: [['name', 'asc']] })));
    await db.createIndex('users', 'city');
    await db.createIndex('users', 'age');
    for (const [i, [filter, keys]] of cases.entries()) {
      const viaIndex = await db.query('users', { filter, sort: [['name', 'asc']] });
      expect(viaIndex.rows.map((r) => r.key).sort(), JSON.stringify(filter)).toEqual(keys);
      expect(viaIndex.rows).toEqual(scans[i]!.rows);
    }
    expect((await db.query('users', cases[7]![0])).explain.strategy).toBe('index');
    await db.close();
  });
});

describe('a query with an aggregation', () => {
  it('db.query answers { rows: [], total, aggregate, explain }, as db.aggregate does, now and at a time', async () => {
    let t = 1_000;
    const db = await KoruDelta.start({ now: () => t });
    await db.put('o', '1', { city: 'Oslo', total: 10 });
    await db.put('o', '2', { city: 'Rome', total: 5 });
    t = 2_000;
    await db.put('o', '3', { city: 'Oslo', total: 7 });
    const q = Query.new().filter(Filter.eq('city', 'Oslo')).aggregate(Aggregation.sum('total'));
    const r = await db.query('o', q);
    expect(r).toEqual({ rows: [], total: 2, aggregate: 17, explain: { strategy: 'scan', indexes: [], examined: 3 } });
    expect(await db.aggregate('o', Agg.sum('total'), { filter: { city: 'Oslo' } })).toBe(17);
    expect(await db.query('o', { filter: { city: 'Oslo' }, aggregate: { op: 'sum', path: 'total' } })).toEqual(r);
    expect((await db.query('o', q, { at: 1_500 })).aggregate).toBe(10);
    await db.createIndex('o', 'city');
    expect(await db.query('o', { filter: { city: 'Oslo' }, aggregate: { op: 'count' } })).toMatchObject({ aggregate: 2, total: 2 });
    await db.close();
  });
});

describe('refusals', () => {
  it('unknown operators and operands of the wrong type: INVALID_QUERY everywhere', async () => {
    const db = await people();
    const bad = [{ age: { $bogus: 1 } }, { age: { $in: 5 } }, { name: { $regex: 3 } }, { tags: { $size: 'x' } }, { tags: { $all: 1 } }];
    for (const filter of bad) {
      await expectKoruError(() => db.query('users', { filter }), 'INVALID_QUERY');
      await expectKoruError(() => db.aggregate('users', Agg.count(), { filter }), 'INVALID_QUERY');
      await expectKoruError(() => db.queryHistory('users', { filter }), 'INVALID_QUERY');
      expect(() => db.subscribe({ filter }, () => {})).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
      await expectKoruError(() => db.createView({ name: 'v', namespace: 'users', query: { filter } }), 'INVALID_QUERY');
    }
    expect(await db.listViews()).toEqual([]);
    await db.close();
  });

  it('a non-object filter, or a Filter-shaped object not made by Filter: INVALID_QUERY (a Filter through JSON is its wire form)', async () => {
    const db = await people();
    expect(await db.aggregate('users', Agg.count(), { filter: JSON.parse(JSON.stringify(adults)) })).toBe(2);
    for (const filter of ['age > 18', 5, null, [], { ...adults }, { op: 'gt', path: 'age', value: 18 }]) {
      await expectKoruError(() => db.aggregate('users', Agg.count(), { filter }), 'INVALID_QUERY');
      await expectKoruError(() => db.queryHistory('users', { filter }), 'INVALID_QUERY');
      expect(() => db.subscribe({ filter }, () => {})).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
    }
    await db.close();
  });

  it('a Query with more than a filter where only a filter is taken: INVALID_QUERY', async () => {
    const db = await people();
    const q = Query.new().filter(adults).limit(1);
    await expectKoruError(() => db.aggregate('users', Agg.count(), { filter: q }), 'INVALID_QUERY', /limit/);
    await expectKoruError(() => db.queryHistory('users', { filter: q }), 'INVALID_QUERY', /limit/);
    await db.close();
  });

  it('a string where the options go, and unknown option names: INVALID_ARGUMENT', async () => {
    const db = await people();
    // @ts-expect-error: the key goes in the options
    await expectKoruError(() => db.queryHistory('users', 'alice', { filter: adults }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.queryHistory('users', 'alice' as never), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.queryHistory('users', { filtr: adults } as never), 'INVALID_ARGUMENT', /filtr/);
    await expectKoruError(() => db.aggregate('users', Agg.count(), 'x' as never), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.aggregate('users', Agg.count(), { where: adults } as never), 'INVALID_ARGUMENT', /where/);
    await expectKoruError(() => db.query('users', {}, 'yesterday' as never), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.query('users', {}, { at: 1, limit: 3 } as never), 'INVALID_ARGUMENT', /limit/);
    await expectKoruError(() => db.query('users', { where: {} }), 'INVALID_QUERY');
    expect(() => db.subscribe({ namespace: 'users', filtr: adults } as never, () => {})).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expectKoruError(() => db.createView({ name: 'v', namespace: 'users', filter: adults } as never), 'INVALID_ARGUMENT', /filter/);
    await expectKoruError(
      () => db.createView({ name: 'v', namespace: 'users', query: Query.new().aggregate(Agg.count()), aggregate: Agg.sum('age') }),
      'INVALID_QUERY',
    );
    expect(await db.listViews()).toEqual([]);
    await db.close();
  });
});
