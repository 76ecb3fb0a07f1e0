// The change feed over a durable database: seq survives a reopen and a compaction.
import { KoruDelta, type ChangeEvent } from '@koru/delta';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('change feed, durable', () => {
  it('resumes with since after a reopen and a compaction: every change once, seqs continuing', async () => {
    const { dir, cleanup } = tempDir('koru-changes-');
    cleanups.push(cleanup);
    let db = await KoruDelta.start({ path: dir });
    for (let i = 0; i < 30; i++) await db.put('c', `k${i % 7}`, i);
    const it = db.changes({ namespace: 'c', since: 0 });
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) seen.push(((await it.next()).value as ChangeEvent).seq);
    await it.return?.();
    await db.compact();
    await db.close();

    db = await KoruDelta.start({ path: dir });
    expect(db.seq).toBe(30);
    await db.delete('c', 'k0');
    const resumed = db.changes({ namespace: 'c', since: seen[seen.length - 1]! });
    const rest: ChangeEvent[] = [];
    for (let i = 0; i < 19; i++) rest.push((await resumed.next()).value as ChangeEvent);
    await resumed.return?.();
    expect([...seen, ...rest.map((e) => e.seq)]).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(rest.at(-1)).toMatchObject({ changeType: 'delete', key: 'k0', value: null, previousValue: 28 });
    expect(rest[0]).toMatchObject({ seq: 13, changeType: 'update', value: 12, previousValue: 5 });
    await db.close();
  });
});
