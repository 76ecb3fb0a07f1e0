// The change feed across servers: a subscriber on server 1 sees the writes made through
// servers 2 and 3 in seq order, with no gap and no duplicate, and a `since` replay of the
// same range gives the same changes on every server.
import { describe, expect, it } from 'vitest';
import { available, eventually, usePostgres } from './harness.mjs';

const suite = usePostgres();

/** Writes through each writing server. */
const WRITES = 120;

describe.skipIf(!available)('the change feed across three servers on one PostgreSQL', () => {
  it('a subscriber on one server sees every server\'s writes in seq order; since replays them anywhere', async () => {
    const store = await suite.pg.createDatabase();
    const servers = await suite.servers(3, store);
    const [one, two, three] = await Promise.all(servers.map((s) => suite.client(s.url)));
    const events = [];
    const sub = one.subscribe({ namespace: 'feed' }, (e) => void events.push(e));
    // Subscribed once a write made on server 1 itself comes back.
    const marker = await one.put('feed', 'marker', { at: 'start' });
    await eventually('the subscription to carry the marker', () => events.some((e) => e.versionId === marker.versionId));

    /** Every acknowledged write: versionId → key. */
    const acked = new Map([[marker.versionId, 'marker']]);
    const writer = async (client, name) => {
      for (let i = 0; i < WRITES; i++) {
        // A few keys, so versions chain, from two servers at once.
        const key = `${name}-${i % 7}`;
        const v = await client.put('feed', key, { name, i });
        acked.set(v.versionId, key);
      }
    };
    await Promise.all([writer(two, 'two'), writer(three, 'three')]).catch(suite.explain);
    await eventually(`all ${acked.size} changes on server 1`, () => events.length >= acked.size, 30_000);
    sub.unsubscribe();

    const changes = events.filter((e) => e.type === 'change');
    // Nothing but changes: no lagged or pruned event.
    expect(changes.length).toBe(events.length);
    expect(changes.length).toBe(acked.size);
    // Seq order, no gap, no duplicate: this database holds only these writes.
    const first = changes[0].seq;
    expect(changes.map((e) => e.seq)).toEqual(changes.map((_, i) => first + i));
    expect(new Set(changes.map((e) => e.versionId))).toEqual(new Set(acked.keys()));
    for (const e of changes) expect(e.key).toBe(acked.get(e.versionId));
    // Each key's changes chain in feed order.
    const last = new Map();
    for (const e of changes) {
      expect(e.previousVersion).toBe(last.get(e.key) ?? null);
      last.set(e.key, e.versionId);
    }

    // `since` means the same on every server: the same range, the same changes. With
    // `until`, the replay ends by itself once the range is complete (a server reads an old
    // range from PostgreSQL while its head is already past it: the client must wait for it).
    const lastSeq = changes.at(-1).seq;
    for (const client of [one, two, three]) {
      const replay = [];
      await client.subscribe({ namespace: 'feed', since: first - 1, until: lastSeq }, (e) => void replay.push(e)).done;
      expect(replay.map((e) => [e.seq, e.versionId])).toEqual(changes.map((e) => [e.seq, e.versionId]));
    }
  });
});
