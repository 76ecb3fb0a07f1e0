// Indexes and views on a durable database: they survive close, compaction and reopen.
import { Agg, KoruDelta, type ChangeEvent, type LaggedEvent } from '@koru/delta';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { expectKoruError } from './support.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const t = tempDir('koru-iv-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function seed(db: KoruDelta, n: number): Promise<void> {
  const items = [];
  for (let i = 0; i < n; i++) items.push({ namespace: 'users', key: `u${i}`, value: { n: i, city: ['Oslo', 'Rome', 'Lima'][i % 3]!, email: `u${i}@x.org` } });
  await db.putMany(items);
}

describe('indexes and views, durable', () => {
  it('come back after close, compaction and reopen, indexes used and views current or stale as defined', async () => {
    const path = dir();
    let db = await KoruDelta.start({ path });
    await seed(db, 300);
    await db.createIndex('users', 'email');
    await db.createIndex('users', 'n');
    await db.createView({ name: 'rome', namespace: 'users', query: { filter: { city: 'Rome' }, sort: [['n', 'desc']], limit: 3 }, autoRefresh: true });
    await db.createView({ name: 'oslo-count', namespace: 'users', query: { filter: { city: 'Oslo' } }, aggregate: Agg.count() });
    const stale = await db.queryView('oslo-count');
    await db.put('users', 'u1000', { n: 1000, city: 'Rome', email: 'new@x.org' });
    await db.put('users', 'u1001', { n: 1001, city: 'Oslo', email: 'new2@x.org' });
    await db.compact();
    await db.put('users', 'u3', { n: 3, city: 'Oslo', email: 'changed@x.org' }); // in the log after the snapshot
    await db.close();

    db = await KoruDelta.start({ path });
    expect(await db.listIndexes()).toMatchObject([{ namespace: 'users', field: 'email' }, { namespace: 'users', field: 'n' }]);
    const byEmail = await db.query('users', { filter: { email: 'changed@x.org' } });
    expect(byEmail.explain).toEqual({ strategy: 'index', indexes: ['email'], examined: 1 });
    expect(byEmail.rows.map((r) => r.key)).toEqual(['u3']);
    expect((await db.query('users', { filter: { email: 'u3@x.org' } })).total).toBe(0);
    const range = await db.query('users', { filter: { n: { $gte: 998 } }, sort: [['n', 'asc']] });
    expect(range.explain.strategy).toBe('index');
    expect(range.rows.map((r) => r.key)).toEqual(['u1000', 'u1001']);

    expect((await db.listViews()).map((v) => v.name)).toEqual(['oslo-count', 'rome']);
    expect((await db.queryView('rome')).rows.map((r) => r.key)).toEqual(['u1000', 'u298', 'u295']);
    expect(await db.queryView('oslo-count')).toEqual(stale); // manual: the same rows as before the restart
    expect((await db.refreshView('oslo-count')).aggregate).toBe(101); // 100 seeded and u1001

    // Writes after the reopen keep both current.
    await db.put('users', 'u1002', { n: 1002, city: 'Rome', email: 'u1002@x.org' });
    expect((await db.query('users', { filter: { email: 'u1002@x.org' } })).rows).toHaveLength(1);
    expect((await db.queryView('rome')).rows[0]!.key).toBe('u1002');
    expect((await db.verify()).ok).toBe(true);
    await db.close();
  });

  it('keeps its own records out of namespaces, counts, keys and the change feed', async () => {
    const db = await KoruDelta.start({ path: dir() });
    await db.put('users', 'a', { n: 1 });
    const seen: Array<ChangeEvent | LaggedEvent> = [];
    const sub = db.subscribe({}, (e) => {
      seen.push(e);
    });
    await db.createIndex('users', 'n');
    await db.createView({ name: 'v', namespace: 'users', autoRefresh: true });
    await db.put('users', 'b', { n: 2 });
    await db.deleteView('v');
    await db.dropIndex('users', 'n');
    await db.put('users', 'c', { n: 3 });
    await new Promise((r) => setTimeout(r, 20));
    sub.unsubscribe();
    expect(seen.map((e) => (e.type === 'change' ? e.key : e.type))).toEqual(['b', 'c']);
    expect(await db.listNamespaces()).toEqual(['users']);
    const stats = await db.stats();
    expect(stats).toMatchObject({ keys: 3, namespaces: 1 });
    await expectKoruError(() => db.get('_koru', 'index:users:n'), 'INVALID_NAMESPACE', /reserved/);
    await expectKoruError(() => db.history('_koru', 'view:v'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.delete('_koru', 'view:v'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.listKeys('_koru'), 'INVALID_NAMESPACE');
    await db.close();
  });
});

describe('export and import, durable', () => {
  it('restores a whole database into an empty one: data, history, seqs, indexes and views', async () => {
    const src = await KoruDelta.start({ path: dir() });
    await seed(src, 30);
    await src.put('users', 'u1', { n: 1, city: 'Rome', email: 'changed@x.org' });
    await src.delete('users', 'u2');
    await src.createIndex('users', 'email');
    await src.createView({ name: 'rome', namespace: 'users', query: { filter: { city: 'Rome' } } });
    await src.put('users', 'u4', { n: 4, city: 'Rome', email: 'late@x.org' }); // after the manual view's refresh
    const exported = [];
    for await (const v of src.exportVersions()) exported.push(JSON.parse(JSON.stringify(v)));
    const usersOnly = [];
    for await (const v of src.exportVersions({ namespace: 'users' })) usersOnly.push(v);
    expect(usersOnly.length).toBe(exported.length - 2);

    const path = dir();
    let dst = await KoruDelta.start({ path });
    expect(await dst.importVersions(exported)).toBe(exported.length);
    await dst.close();
    dst = await KoruDelta.start({ path });
    expect(dst.seq).toBe(src.seq);
    expect(await dst.history('users', 'u1')).toEqual(await src.history('users', 'u1'));
    expect(await dst.listIndexes()).toEqual(await src.listIndexes());
    expect((await dst.query('users', { filter: { email: 'changed@x.org' } })).explain.strategy).toBe('index');
    expect(await dst.queryView('rome')).toEqual(await src.queryView('rome')); // the same stale rows, by seq
    expect((await dst.verify()).ok).toBe(true);
    await src.close();
    await dst.close();
  });
});
