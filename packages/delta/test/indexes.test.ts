import { KoruDelta } from '@koru/delta';
import { describe, expect, it } from 'vitest';
import { expectKoruError } from './support.js';

describe('secondary indexes through KoruDelta', () => {
  it('narrow selective filters, fall back to a scan for broad ones, and never change a result', async () => {
    let t = 1_000;
    const db = await KoruDelta.start({ now: () => t });
    const items = [];
    for (let i = 0; i < 5_000; i++) items.push({ namespace: 'n', key: `k${i}`, value: { v: i % 500, w: i } });
    await db.putMany(items);
    const selective = { filter: { v: { $in: [7, 8] } }, sort: [['w', 'desc']], limit: 4 };
    const broad = { filter: { v: { $gte: 0 } }, limit: 3 };
    const unindexed = [await db.query('n', selective), await db.query('n', broad)];
    expect(await db.createIndex('n', 'v')).toMatchObject({ namespace: 'n', field: 'v' });
    const viaIndex = await db.query('n', selective);
    expect(viaIndex.explain).toEqual({ strategy: 'index', indexes: ['v'], examined: 20 });
    expect(viaIndex.rows).toEqual(unindexed[0]!.rows);
    const scanned = await db.query('n', broad);
    expect(scanned.explain.strategy).toBe('scan'); // every document matches: the index would only add work
    expect(scanned.rows).toEqual(unindexed[1]!.rows);
    // Time travel reads the past, which the index does not hold: always a scan.
    t = 2_000;
    await db.put('n', 'k7', { v: 9, w: 7 });
    const past = await db.query('n', { filter: { v: 7 } }, { at: 1_500 });
    expect(past.explain.strategy).toBe('scan');
    expect(past.total).toBe(10);
    expect((await db.query('n', { filter: { v: 7 } })).total).toBe(9);
    await db.close();
  });

  it('rejects bad arguments with typed errors', async () => {
    const db = await KoruDelta.start();
    await expectKoruError(() => db.createIndex('users', ''), 'INVALID_QUERY');
    await expectKoruError(() => db.createIndex('bad ns', 'x'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.dropIndex('users', 'x'), 'INDEX_NOT_FOUND', /users\.x/);
    await expectKoruError(() => db.listIndexes('_x'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.queryView('nope'), 'VIEW_NOT_FOUND', /nope/);
    await expectKoruError(() => db.refreshView('nope'), 'VIEW_NOT_FOUND');
    await expectKoruError(() => db.deleteView('nope'), 'VIEW_NOT_FOUND');
    expect(await db.listIndexes()).toEqual([]);
    expect(await db.listViews()).toEqual([]);
    await db.close();
    await expectKoruError(() => db.createIndex('users', 'x'), 'CLOSED');
    await expectKoruError(() => db.createView({ name: 'v', namespace: 'users' }), 'CLOSED');
  });
});
