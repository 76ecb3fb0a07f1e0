// What the client puts on the wire for filters and queries: Filter and Query values from
// the builder become their JSON wire form (a scripted server records each call).
import { afterEach, describe, expect, test } from 'vitest';
import { KoruClient, KoruError } from '@koru/client';
import { Agg, Filter, Query } from '@koru/delta';
import { FakeServer } from './fake-server.js';

let fake: FakeServer | undefined;
let client: KoruClient | undefined;

afterEach(async () => {
  await client?.close();
  await fake?.close();
});

async function open(): Promise<{ fake: FakeServer; client: KoruClient }> {
  fake = await FakeServer.start();
  fake.script = (call, s) => (call.method === 'subscribe' ? s.answer({ sid: 's1', seq: 7 }) : s.answer(call.method === 'query' ? { rows: [], total: 0 } : 0));
  client = await KoruClient.connect(fake.url, { reconnect: false });
  return { fake, client };
}

describe('filters on the wire', () => {
  test('a Filter is sent as its wire form wherever a filter or query goes', async () => {
    const { fake, client } = await open();
    const over18 = Filter.gt('age', 18);
    await client.aggregate('users', Agg.count(), { filter: over18 });
    await client.queryHistory('users', { key: 'alice', filter: over18 });
    await client.query('users', over18);
    await client.query('users', { filter: { $or: [over18, { vip: true }] }, limit: 2 });
    await client.query('users', Query.new().filter(Filter.elemMatch('scores', { $gte: 80 })).aggregate(Agg.count()));
    await client.aggregate('users', Agg.count(), { filter: Query.new().filter(Filter.nin('city', ['Oslo'])) });
    await client.createView({ name: 'v', namespace: 'users', query: over18 });
    const sent = fake.calls.map((c) => [c.method, c.params]);
    expect(sent).toEqual([
      ['aggregate', ['users', { op: 'count' }, { filter: { age: { $gt: 18 } } }]],
      ['queryHistory', ['users', { key: 'alice', filter: { age: { $gt: 18 } } }]],
      ['query', ['users', { filter: { age: { $gt: 18 } } }, {}]],
      ['query', ['users', { filter: { $or: [{ age: { $gt: 18 } }, { vip: true }] }, limit: 2 }, {}]],
      ['query', ['users', { filter: { scores: { $elemMatch: { $gte: 80 } } }, aggregate: { op: 'count' } }, {}]],
      ['aggregate', ['users', { op: 'count' }, { filter: { city: { $nin: ['Oslo'] } } }]],
      ['createView', [{ name: 'v', namespace: 'users', query: { filter: { age: { $gt: 18 } } } }]],
    ]);
  });

  test('a subscription spec with a Filter is sent in wire form', async () => {
    const { fake, client } = await open();
    const sub = client.subscribe({ namespace: 'users', filter: Filter.regex('name', '^a', 'i') }, () => {});
    await expect.poll(() => fake.calls.find((c) => c.method === 'subscribe')).toBeDefined();
    const call = fake.calls.find((c) => c.method === 'subscribe')!;
    expect(JSON.stringify(call.params)).toContain('"filter":{"name":{"$matches":"^a","$options":"i"}}');
    sub.unsubscribe();
  });

  test('a Query with more than a filter where only a filter goes is refused before sending: INVALID_QUERY', async () => {
    const { fake, client } = await open();
    const e = await client.aggregate('users', Agg.count(), { filter: Query.new().filter(Filter.gt('a', 1)).limit(3) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KoruError);
    expect((e as KoruError).code).toBe('INVALID_QUERY');
    expect(fake.calls).toEqual([]);
  });
});
