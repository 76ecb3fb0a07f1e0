import { CausalStorage } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { Agg } from '../src/aggregate.js';
import { executeQuery } from '../src/execute.js';
import { Filter } from '../src/filter.js';
import { Query } from '../src/query.js';
import { MAX_DESCRIPTION_LENGTH, MAX_VIEWS, ViewSet } from '../src/views.js';

async function store(): Promise<CausalStorage> {
  const s = await CausalStorage.open();
  await s.put('users', 'alice', { name: 'Alice', age: 31, city: 'Oslo' });
  await s.put('users', 'bob', { name: 'Bob', age: 25, city: 'Rome' });
  await s.put('users', 'carol', { name: 'Carol', age: 42, city: 'Oslo' });
  return s;
}

const keys = (r: { rows: readonly { key: string }[] }) => r.rows.map((e) => e.key);

describe('views', () => {
  it('a manual view shows the data as of its creation or last refresh', async () => {
    const s = await store();
    const views = new ViewSet(s);
    const info = await views.create({ name: 'oslo', namespace: 'users', query: { filter: { city: 'Oslo' }, sort: [['age', 'desc']] }, description: 'people in Oslo' });
    expect(info).toMatchObject({ name: 'oslo', namespace: 'users', autoRefresh: false, description: 'people in Oslo', query: { filter: { city: 'Oslo' }, sort: [['age', 'desc']] } });
    const first = views.query('oslo');
    expect(keys(first)).toEqual(['carol', 'alice']);
    expect(first.total).toBe(2);
    expect(first.seq).toBe(3);
    await s.put('users', 'dave', { name: 'Dave', age: 50, city: 'Oslo' });
    await s.delete('users', 'alice');
    expect(views.query('oslo')).toEqual(first); // stale until refreshed
    const refreshed = await views.refresh('oslo');
    expect(keys(refreshed)).toEqual(['dave', 'carol']);
    expect(refreshed.seq).toBe(s.seq - 1); // the refresh record is the change after it
    expect(Date.parse(refreshed.refreshedAt)).toBeGreaterThanOrEqual(Date.parse(first.refreshedAt));
  });

  it('an auto-refresh view follows every write and delete, also of rows that stop matching', async () => {
    const s = await store();
    const views = new ViewSet(s);
    await views.create({ name: 'adults', namespace: 'users', query: Query.new().filter(Filter.gte('age', 30)).sort('name').select(['name']), autoRefresh: true });
    expect(views.query('adults').rows).toEqual([{ key: 'alice', value: { name: 'Alice' } }, { key: 'carol', value: { name: 'Carol' } }]);
    await s.put('users', 'bob', { name: 'Bob', age: 35, city: 'Rome' }); // starts matching
    await s.put('users', 'carol', { name: 'Carol', age: 12, city: 'Oslo' }); // stops matching
    await s.delete('users', 'alice');
    await s.put('other', 'x', { name: 'Zed', age: 99 }); // another namespace
    const r = views.query('adults');
    expect(keys(r)).toEqual(['bob']);
    expect(r.seq).toBe(s.seq);
    // The same as running the query now.
    expect(r.rows).toEqual(executeQuery(s.entries('users'), { filter: Filter.gte('age', 30), sort: [{ path: 'name', direction: 'asc' }], select: ['name'] }).rows);
  });

  it('aggregate views reduce the matching documents; manual ones stay stale', async () => {
    const s = await store();
    const views = new ViewSet(s);
    await views.create({ name: 'ages', namespace: 'users', query: { filter: { city: 'Oslo' } }, aggregate: Agg.avg('age'), autoRefresh: true });
    await views.create({ name: 'cities', namespace: 'users', aggregate: Agg.groupBy('city', Agg.count()) });
    expect(views.query('ages')).toMatchObject({ rows: [], total: 2, aggregate: 36.5 });
    await s.put('users', 'dave', { age: 50, city: 'Oslo' });
    expect(views.query('ages').aggregate).toBe(41);
    expect(views.query('cities').aggregate).toEqual([{ group: 'Oslo', value: 2 }, { group: 'Rome', value: 1 }]);
    expect((await views.refresh('cities')).aggregate).toEqual([{ group: 'Oslo', value: 3 }, { group: 'Rome', value: 1 }]);
  });

  it('persists definitions and refreshes; a manual view comes back with the same stale rows', async () => {
    const s = await store();
    const views = new ViewSet(s);
    await views.create({ name: 'manual', namespace: 'users', query: { sort: [['name', 'asc']] } });
    await views.create({ name: 'auto', namespace: 'users', query: { sort: [['name', 'asc']] }, autoRefresh: true });
    await s.put('users', 'aaron', { name: 'Aaron' });
    const manual = views.query('manual');
    const auto = views.query('auto');
    // A second set over the same store stands for a reopen.
    const again = new ViewSet(s);
    expect(again.list()).toEqual(views.list());
    expect(again.query('manual')).toEqual(manual);
    expect(keys(again.query('auto'))).toEqual(keys(auto));
    expect(keys(auto)).toEqual(['aaron', 'alice', 'bob', 'carol']);
    expect(keys(manual)).toEqual(['alice', 'bob', 'carol']);
    await again.delete('manual');
    expect(new ViewSet(s).list().map((v) => v.name)).toEqual(['auto']);
    expect(() => again.query('manual')).toThrow(expect.objectContaining({ code: 'VIEW_NOT_FOUND' }));
    await expect(again.refresh('manual')).rejects.toMatchObject({ code: 'VIEW_NOT_FOUND' });
    await expect(again.delete('manual')).rejects.toMatchObject({ code: 'VIEW_NOT_FOUND' });
  });

  it('rejects bad definitions with typed errors and stores nothing', async () => {
    const s = await store();
    const views = new ViewSet(s);
    const bad: Array<[unknown, string]> = [
      [null, 'INVALID_ARGUMENT'],
      [{ name: '', namespace: 'users' }, 'INVALID_ARGUMENT'],
      [{ name: '_x', namespace: 'users' }, 'INVALID_ARGUMENT'],
      [{ name: 'a b', namespace: 'users' }, 'INVALID_ARGUMENT'],
      [{ name: 'x'.repeat(129), namespace: 'users' }, 'INVALID_ARGUMENT'],
      [{ name: 'v', namespace: '_koru' }, 'INVALID_NAMESPACE'],
      [{ name: 'v', namespace: 'users', query: { filter: { age: { $bogus: 1 } } } }, 'INVALID_QUERY'],
      [{ name: 'v', namespace: 'users', query: { limit: -1 } }, 'INVALID_QUERY'],
      [{ name: 'v', namespace: 'users', aggregate: { op: 'median' } }, 'INVALID_QUERY'],
      [{ name: 'v', namespace: 'users', aggregate: Agg.count(), query: { limit: 3 } }, 'INVALID_QUERY'],
      [{ name: 'v', namespace: 'users', autoRefresh: 'yes' }, 'INVALID_ARGUMENT'],
      [{ name: 'v', namespace: 'users', description: 'x'.repeat(MAX_DESCRIPTION_LENGTH + 1) }, 'INVALID_ARGUMENT'],
    ];
    for (const [def, code] of bad) {
      await expect(views.create(def as never), JSON.stringify(def)).rejects.toMatchObject({ code });
    }
    await views.create({ name: 'v', namespace: 'users' });
    await expect(views.create({ name: 'v', namespace: 'users' })).rejects.toMatchObject({ code: 'VIEW_EXISTS' });
    expect(views.list()).toHaveLength(1);
    expect(s.systemEntries()).toHaveLength(1);
    expect(() => views.query(42 as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it(`allows at most ${MAX_VIEWS} views`, async () => {
    const s = await CausalStorage.open();
    const views = new ViewSet(s);
    for (let i = 0; i < MAX_VIEWS; i++) await views.create({ name: `v${i}`, namespace: 'n' });
    await expect(views.create({ name: 'one-more', namespace: 'n' })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: MAX_VIEWS } });
    await views.delete('v0');
    await views.create({ name: 'one-more', namespace: 'n' });
  });
});

describe('a view stored under older rules', () => {
  it('whose query is now refused (a lookahead, a filter past a bound) does not stop the store from opening', async () => {
    const s = await store();
    // As an older version wrote them: RegExp took lookahead, and filters had no bounds.
    const record = (name: string, filter: unknown, autoRefresh: boolean) => ({
      name, namespace: 'users', query: { filter }, autoRefresh, createdAt: '2026-01-01T00:00:00.000Z', refreshedAt: '2026-01-01T00:00:00.000Z', seq: 3,
    });
    await s.putSystem('view:look', record('look', { name: { $regex: 'A(?=l)' } }, true));
    await s.putSystem('view:wide', record('wide', { age: { $in: Array.from({ length: 10_001 }, (_, i) => i) } }, false));
    await s.putSystem('view:fine', record('fine', { city: 'Oslo' }, true));
    const views = new ViewSet(s);
    // Listed as problems, not as views; reading one says why, with the refusal's code.
    expect(views.list().map((v) => v.name)).toEqual(['fine']);
    expect(views.problems.map((p) => p.name)).toEqual(['look', 'wide']);
    expect(() => views.query('look')).toThrow(/the view definition "look" cannot be loaded: .*lookahead.*; delete it and create it again/);
    expect(() => views.query('look')).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
    expect(() => views.query('wide')).toThrow(expect.objectContaining({ code: 'INVALID_QUERY', details: expect.objectContaining({ limit: 10_000 }) }));
    await expect(views.refresh('look')).rejects.toThrow(/cannot be loaded/);
    // Writes to its namespace go on, the other views work, and it can be deleted.
    await s.put('users', 'dave', { name: 'Alf', city: 'Oslo' });
    expect(keys(views.query('fine')).sort()).toEqual(['alice', 'carol', 'dave']);
    await views.delete('look');
    await views.delete('wide');
    expect(views.list().map((v) => v.name)).toEqual(['fine']);
    expect(views.problems).toEqual([]);
    expect(s.systemEntries().map((v) => v.key)).toEqual(['view:fine']);
  });
});
