// db.query: the query layer over a namespace's live documents, now or at a time.
import { Agg, ErrorCodes, Filter, KoruDelta, Query } from '@koru/delta';
import { describe, expect, it } from 'vitest';

async function people(now?: () => number) {
  const db = await KoruDelta.start(now ? { now } : {});
  await db.put('users', 'alice', { name: 'Alice', age: 34, city: 'Paris', tags: ['admin'] });
  await db.put('users', 'bob', { name: 'Bob', age: 28, city: 'Lyon', tags: [] });
  await db.put('users', 'carol', { name: 'Carol', age: 41, city: 'Paris', tags: ['ops', 'admin'] });
  await db.put('users', 'dave', { name: 'Dave', age: 19 });
  await db.put('other', 'x', { name: 'Xavier', age: 99 });
  return db;
}

describe('query', () => {
  it('filters, sorts, pages and projects with the builder and with the wire form alike', async () => {
    const db = await people();
    const built = await db.query('users', Query.new().filter(Filter.gt('age', 30)).sort('name', 'desc').select(['name']));
    expect(built).toEqual({
      rows: [{ key: 'carol', value: { name: 'Carol' } }, { key: 'alice', value: { name: 'Alice' } }],
      total: 2,
      explain: { strategy: 'scan', indexes: [], examined: 4 },
    });
    const wire = await db.query('users', { filter: { age: { $gt: 30 } }, sort: [['name', 'desc']], select: ['name'] });
    expect(wire).toEqual(built);
    const paged = await db.query('users', { filter: { tags: { $contains: 'admin' } }, sort: [['age', 'asc']], offset: 1, limit: 5 });
    expect(paged.total).toBe(2);
    expect(paged.rows.map((r) => r.key)).toEqual(['carol']);
    expect((await db.query('users')).total).toBe(4);
    await db.close();
  });

  it('runs over the namespace as it was at a time: later writes invisible, keys deleted then absent', async () => {
    let t = 1_000;
    const db = await people(() => t);
    t = 2_000;
    await db.put('users', 'alice', { name: 'Alice', age: 35, city: 'Nice' });
    await db.delete('users', 'bob');
    await db.put('users', 'erin', { name: 'Erin', age: 50 });
    const now = await db.query('users', { sort: [['name', 'asc']] });
    expect(now.rows.map((r) => r.key)).toEqual(['alice', 'carol', 'dave', 'erin']);
    const then = await db.query('users', { filter: { city: 'Paris' }, sort: [['name', 'asc']] }, { at: 1_500 });
    expect(then.rows.map((r) => [r.key, (r.value as { age: number }).age])).toEqual([
      ['alice', 34],
      ['carol', 41],
    ]);
    expect((await db.query('users', {}, { at: new Date(1_500).toISOString() })).total).toBe(4);
    expect((await db.query('users', {}, { at: 500 })).total).toBe(0);
    await db.close();
  });

  it('treats __proto__ fields as plain data and pollutes nothing', async () => {
    const db = await KoruDelta.start();
    await db.put('docs', 'p', JSON.parse('{"__proto__": {"polluted": true}, "n": 1}'));
    const r = await db.query('docs', { filter: { '__proto__.polluted': true } });
    expect(r.total).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await db.close();
  });

  it('rejects invalid queries with INVALID_QUERY naming the bad part, and bad names and times', async () => {
    const db = await people();
    const fail = async (p: Promise<unknown>) => p.then(() => null, (e: { code: string; details: Record<string, unknown> }) => e);
    const e = await fail(db.query('users', { filter: { age: { $gtx: 3 } } }));
    expect(e?.code).toBe(ErrorCodes.INVALID_QUERY);
    expect(String(e?.details.path)).toContain('age');
    expect((await fail(db.query('users', { filter: { name: { $matches: '(' } } })))?.code).toBe(ErrorCodes.INVALID_QUERY);
    expect((await fail(db.query('_users', {})))?.code).toBe(ErrorCodes.INVALID_NAMESPACE);
    expect((await fail(db.query('users', {}, { at: 'not a time' })))?.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    await db.close();
  });
});

describe('queryHistory', () => {
  it('finds versions across history by key, time range and value filter', async () => {
    let t = 1_000;
    const db = await KoruDelta.start({ now: () => t });
    await db.put('orders', 'o1', { status: 'new', total: 10 });
    await db.put('orders', 'o2', { status: 'new', total: 99 });
    t = 2_000;
    await db.put('orders', 'o1', { status: 'paid', total: 10 });
    t = 3_000;
    await db.put('orders', 'o2', { status: 'paid', total: 99 });
    await db.delete('orders', 'o1');
    const show = (vs: Array<{ key: string; timestamp: string; deleted: boolean; value: unknown }>) =>
      vs.map((v) => `${v.key}@${Date.parse(v.timestamp)}:${v.deleted ? 'deleted' : (v.value as { status: string }).status}`).sort();

    expect(show(await db.queryHistory('orders'))).toEqual(['o1@1000:new', 'o1@2000:paid', 'o1@3000:deleted', 'o2@1000:new', 'o2@3000:paid']);
    expect(show(await db.queryHistory('orders', { filter: { status: 'paid' } }))).toEqual(['o1@2000:paid', 'o2@3000:paid']);
    expect(show(await db.queryHistory('orders', { key: 'o1', from: 1_500 }))).toEqual(['o1@2000:paid', 'o1@3000:deleted']);
    expect(show(await db.queryHistory('orders', { to: new Date(1_000), filter: Query.new().filter(Filter.gt('total', 50)) }))).toEqual([
      'o2@1000:new',
    ]);
    const bad = await db.queryHistory('orders', { filter: { total: { $bogus: 1 } } }).catch((e: { code: string }) => e.code);
    expect(bad).toBe(ErrorCodes.INVALID_QUERY);
    await db.close();
  });
});

describe('aggregate', () => {
  it('reduces the matching live documents, now or at a time', async () => {
    let t = 1_000;
    const db = await people(() => t);
    expect(await db.aggregate('users', Agg.count())).toBe(4);
    expect(await db.aggregate('users', Agg.sum('age'))).toBe(34 + 28 + 41 + 19);
    expect(await db.aggregate('users', Agg.avg('age'), { filter: { city: 'Paris' } })).toBe((34 + 41) / 2);
    expect(await db.aggregate('users', Agg.max('age'), { filter: Query.new().filter(Filter.lt('age', 30)) })).toBe(28);
    expect(await db.aggregate('users', Agg.groupBy('city', Agg.count()))).toEqual([
      { group: null, value: 1 },
      { group: 'Lyon', value: 1 },
      { group: 'Paris', value: 2 },
    ]);
    expect(await db.aggregate('users', Agg.avg('age'), { filter: { city: 'Nowhere' } })).toBeNull();
    t = 2_000;
    await db.delete('users', 'dave');
    expect(await db.aggregate('users', Agg.count())).toBe(3);
    expect(await db.aggregate('users', Agg.count(), { at: 1_500 })).toBe(4);
    await db.close();
  });
});
