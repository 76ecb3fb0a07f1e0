// The WebSocket importVersions call cannot poison the database (issue 12, item 2): a view
// definition in the reserved namespace that would stop every later start, and a version
// stamped far in the future, are refused with their codes; the server's database then
// reopens and writes carry today's date.
import { KoruDelta } from '@koru/delta';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../src/index.js';
import { Session } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Versions with valid ids, as a crafted call would carry them. */
async function crafted(): Promise<{ poisoned: unknown[]; far: unknown[] }> {
  const src = await KoruDelta.start();
  await src.storage.putSystem('view:bad', { name: 'bad', namespace: 'users', query: { filter: { x: { $bogus: 1 } } }, autoRefresh: true, createdAt: '2026-01-01T00:00:00.000Z', refreshedAt: '2026-01-01T00:00:00.000Z', seq: 0 });
  const future = await KoruDelta.start({ now: () => Date.UTC(9999, 11, 31) });
  await future.put('users', 'late', 1);
  const wire = (d: KoruDelta): unknown[] => [...d.storage.committed()].map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  const out = { poisoned: wire(src), far: wire(future) };
  await src.close();
  await future.close();
  return out;
}

describe('importVersions over the WebSocket', () => {
  it('refuses the reserved namespace (INVALID_NAMESPACE) and a far-future clock (CLOCK_SKEW); the database reopens', async () => {
    const { poisoned, far } = await crafted();
    const t = tempDir('koru-poison-');
    cleanups.push(t.cleanup);
    const s = await startServer({ path: t.dir, port: 0, log: 'silent' });
    const { session } = await Session.open(s.url);
    await expect(session.call('importVersions', poisoned)).rejects.toMatchObject({ code: 'INVALID_NAMESPACE', message: expect.stringMatching(/_koru.*\$bogus/) });
    await expect(session.call('importVersions', far)).rejects.toMatchObject({ code: 'CLOCK_SKEW' });
    await session.call('put', 'users', 'a', 1);
    session.close();
    await s.close();

    const db = await KoruDelta.start({ path: t.dir });
    expect(db.problems).toEqual([]);
    expect((await db.put('users', 'b', 2)).timestamp.slice(0, 4)).toBe(String(new Date().getUTCFullYear()));
    expect(await db.listKeys('users')).toEqual(['a', 'b']);
    await db.close();
  });
});
