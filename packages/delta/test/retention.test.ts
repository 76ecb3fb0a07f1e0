// Retention and purge through the database API: policies, the feed's `pruned` event (a
// `since` before what retention cut gets one, with where to resync from, and the feed
// goes on), HISTORY_PRUNED from time travel, purge.
import { ErrorCodes, HISTORY_PRUNED, KoruDelta, type ChangeEvent, type LaggedEvent, type PrunedEvent } from '@koru/delta';
import { describe, expect, it } from 'vitest';

type Event = ChangeEvent | LaggedEvent | PrunedEvent;

async function take(it: AsyncIterableIterator<Event>, n: number): Promise<Event[]> {
  const out: Event[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  await it.return?.();
  return out;
}

const brief = (e: Event): string => (e.type === 'change' ? `${e.seq}:${e.changeType}:${e.key}` : `${e.type}@${e.seq}${e.type === 'pruned' ? `→${e.resyncFrom}` : ''}`);

describe('retention through KoruDelta', () => {
  it('sets, shows and validates policies', async () => {
    const db = await KoruDelta.start();
    expect(await db.retention('a')).toEqual({ keep: 'all' });
    await db.setRetention('a', { lastVersions: 2 });
    expect(await db.retention('a')).toEqual({ lastVersions: 2 });
    expect(await db.retentionPolicies()).toEqual([['a', { lastVersions: 2 }]]);
    await expect(db.setRetention('a', { lastVersions: 0 })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await db.close();
  });

  it('gives a feed reader whose since predates the cut one pruned event, then the changes after it', async () => {
    const db = await KoruDelta.start();
    await db.setRetention('a', { lastVersions: 1 });
    for (let i = 0; i < 4; i++) await db.put('a', 'k', { i });
    await db.put('b', 'x', 1);
    await db.compact();
    // Changes 1–3 (k's first three versions) are gone.
    const it1 = db.changes({ since: 0 });
    const first = await take(it1, 1);
    expect(first.map(brief)).toEqual(['pruned@1→5']);
    // The iterator goes on after resyncFrom.
    const it2 = db.changes({ since: 0 });
    expect((await it2.next()).value).toMatchObject({ type: 'pruned', seq: 1, resyncFrom: 5 });
    const live = it2.next();
    await db.put('a', 'k', { i: 9 });
    expect(brief((await live).value as Event)).toBe('6:update:k');
    await it2.return?.();
    // A since at or after the cut replays as usual.
    expect((await take(db.changes({ since: 3, until: 5 }), 5)).map(brief)).toEqual(['4:update:k', '5:insert:x']);
    // subscribe: the same.
    const seen: Event[] = [];
    const sub = db.subscribe({ since: 1 }, (e) => {
      seen.push(e);
    });
    await new Promise((r) => setTimeout(r, 10));
    await db.put('b', 'x', 2);
    await new Promise((r) => setTimeout(r, 10));
    sub.unsubscribe();
    expect(seen.map(brief)).toEqual(['pruned@2→6', '7:update:x']);
  });

  it('answers getAt before the horizon with HISTORY_PRUNED, and purges', async () => {
    const db = await KoruDelta.start();
    await db.setRetention('a', { lastVersions: 1 });
    const v1 = await db.put('a', 'k', { i: 1 });
    await db.put('a', 'k', { i: 2 });
    await db.compact();
    await expect(db.getAt('a', 'k', Date.parse(v1.timestamp) - 1)).rejects.toMatchObject({ code: HISTORY_PRUNED });
    await db.put('p', 'ann', { secret: 1 });
    const r = await db.purge('p', 'ann');
    expect(r.removed).toHaveLength(1);
    expect(await db.contains('p', 'ann')).toBe(false);
    expect((await db.history('p', 'ann')).map((v) => v.deleted)).toEqual([true]);
    expect((await db.verify()).ok).toBe(true);
  });
});
