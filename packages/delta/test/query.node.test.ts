// db.query on a durable database: values read back from disk after a reopen.
import { KoruDelta } from '@koru/delta';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('query, durable', () => {
  it('answers the same after close, compaction and reopen, including at a past time', async () => {
    const { dir, cleanup } = tempDir('koru-query-');
    cleanups.push(cleanup);
    let t = 10_000;
    let db = await KoruDelta.start({ path: dir, now: () => t });
    for (let i = 0; i < 50; i++) await db.put('items', `k${i}`, { i, even: i % 2 === 0 });
    t = 20_000;
    for (let i = 0; i < 50; i += 5) await db.delete('items', `k${i}`);
    const q = { filter: { even: true }, sort: [['i', 'desc']], limit: 3 };
    const before = await db.query('items', q);
    const past = await db.query('items', q, { at: 15_000 });
    await db.compact();
    await db.close();
    db = await KoruDelta.start({ path: dir, now: () => t });
    expect(await db.query('items', q)).toEqual(before);
    expect(await db.query('items', q, { at: 15_000 })).toEqual(past);
    expect(before.rows.map((r) => r.key)).toEqual(['k48', 'k46', 'k44']);
    expect(past.rows.map((r) => r.key)).toEqual(['k48', 'k46', 'k44']);
    expect(before.total).toBe(20);
    expect(past.total).toBe(25);
    await db.close();
  });
});
