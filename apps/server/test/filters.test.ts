// Filters through the server: the wire form (with the new operators and aggregations in
// a query) passes through REST and WebSocket; a bad filter is a 400 / an error with its code.
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type KoruServer } from '../src/index.js';
import { Session } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<KoruServer> {
  const t = tempDir('koru-filters-');
  const s = await startServer({ path: t.dir, port: 0, log: 'silent' });
  cleanups.push(t.cleanup, () => s.close());
  for (const [key, value] of Object.entries({
    ann: { name: 'Ann', age: 31, tags: ['a', 'b'], scores: [70, 95] },
    bob: { name: 'bob', age: 25, tags: [], scores: [88] },
    cy: { name: 'Cy', age: 40, tags: ['b'] },
  })) {
    await s.db.put('people', key, value);
  }
  return s;
}

async function post(s: KoruServer, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(s.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

const BAD_FILTERS: unknown[] = [
  { age: { $bogus: 1 } },
  { age: { $in: 5 } },
  { name: { $regex: 3 } },
  { tags: { $size: 'x' } },
  { name: { $regex: 'a', $options: 'x' } },
  { op: 'gt', path: 'age', value: 1 }, // a Filter's fields sent as they are: refused, not matched as fields
  'age > 3',
];

describe('filters over REST', () => {
  it('the new operators and an aggregation in the query pass through', async () => {
    const s = await server();
    const keys = async (filter: unknown) => (await post(s, '/v1/query/people', { filter, sort: [['name', 'asc']] })).body.rows.map((r: any) => r.key);
    expect(await keys({ age: { $nin: [25, 40] } })).toEqual(['ann']);
    expect(await keys({ tags: { $all: ['b', 'a'] } })).toEqual(['ann']);
    expect(await keys({ tags: { $size: 0 } })).toEqual(['bob']);
    expect(await keys({ scores: { $elemMatch: { $gte: 80, $lt: 90 } } })).toEqual(['bob']);
    expect(await keys({ name: { $regex: '^b', $options: 'i' } })).toEqual(['bob']);
    expect(await keys({ age: { $not: { $gt: 30 } } })).toEqual(['bob']);
    const agg = await post(s, '/v1/query/people', { filter: { age: { $gt: 30 } }, aggregate: { op: 'sum', path: 'age' } });
    expect(agg.body).toMatchObject({ rows: [], total: 2, aggregate: 71 });
    expect((await post(s, '/v1/aggregate/people', { aggregation: { op: 'count' }, filter: { tags: { $size: 1 } } })).body).toBe(1);
  });

  it('answers a bad filter with 400 and INVALID_QUERY on query, aggregate and views, storing nothing', async () => {
    const s = await server();
    for (const filter of BAD_FILTERS) {
      for (const [path, body] of [
        ['/v1/query/people', { filter }],
        ['/v1/aggregate/people', { aggregation: { op: 'count' }, filter }],
        ['/v1/views', { name: 'v', namespace: 'people', query: { filter } }],
      ] as const) {
        const r = await post(s, path, body);
        expect(r.status, `${path} ${JSON.stringify(filter)}`).toBe(400);
        expect(r.body.error.code).toBe('INVALID_QUERY');
      }
    }
    expect((await fetch(`${s.url}/v1/views`).then((r) => r.json())) as unknown[]).toEqual([]);
    const unknownKey = await post(s, '/v1/query/people', { filter: {}, aggregat: { op: 'count' } });
    expect([unknownKey.status, unknownKey.body.error.code]).toEqual([400, 'INVALID_QUERY']);
  });
});

describe('filters over the WebSocket', () => {
  it('a bad filter is INVALID_QUERY on every call taking one; options in the wrong place are INVALID_ARGUMENT', async () => {
    const s = await server();
    const { session: c } = await Session.open(s.url);
    cleanups.push(() => c.close());
    expect(await c.call('queryHistory', 'people', { filter: { scores: { $elemMatch: { $gt: 90 } } } })).toHaveLength(1);
    for (const filter of BAD_FILTERS) {
      await expect(c.call('query', 'people', { filter })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
      await expect(c.call('aggregate', 'people', { op: 'count' }, { filter })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
      await expect(c.call('queryHistory', 'people', { filter })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
      await expect(c.call('subscribe', { namespace: 'people', filter })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
    }
    await expect(c.call('queryHistory', 'people', 'ann', { filter: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.call('aggregate', 'people', { op: 'count' }, { filtr: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.call('subscribe', { namespace: 'people', filtr: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
