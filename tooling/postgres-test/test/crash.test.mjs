// kill -9 of one `kdelta start --store` process in the middle of writes: every write it
// acknowledged is in PostgreSQL afterwards, read through another server, and a write
// whose answer was lost with the process is either wholly there or not at all.
import { KoruDelta } from '@koru/delta';
import { describe, expect, it } from 'vitest';
import { available, codeOf, eventually, usePostgres } from './harness.mjs';

const suite = usePostgres();

const WRITERS = 8;
/** Bound on each writer's loop: the kill comes long before. */
const MAX_WRITES = 2_000;

describe.skipIf(!available)('kill -9 of a server on a PostgreSQL store', () => {
  it('loses no acknowledged write', async () => {
    const store = await suite.pg.createDatabase();
    const [victim, survivor] = await suite.servers(2, store);
    // No reconnect: once the process is gone, calls fail at once instead of waiting for it.
    const clients = await Promise.all(Array.from({ length: WRITERS }, () => suite.client(victim.url, { reconnect: false })));
    const acked = new Map();
    const unknown = new Set();
    const writer = async (client, w) => {
      for (let i = 0; i < MAX_WRITES; i++) {
        const key = `w${w}-${i % 50}`;
        try {
          const v = await client.put('crash', key, { w, i, pad: 'x'.repeat(200) });
          acked.set(v.versionId, key);
        } catch (e) {
          // The process died with the write on its way: stored or not, the client cannot know.
          if (!['IO_ERROR', 'CLOSED'].includes(codeOf(e))) throw e;
          unknown.add(`${key}:${i}`);
          return;
        }
      }
    };
    const writing = Promise.all(clients.map((c, w) => writer(c, w)));
    await eventually('writes to be acknowledged', () => acked.size >= 400, 30_000).catch(suite.explain);
    victim.kill('SIGKILL');
    await writing;
    expect(await victim.exited).toBe('SIGKILL');
    // The kill came mid-writes: some were cut off (else the test checked nothing).
    expect(unknown.size).toBeGreaterThan(0);

    const reader = await suite.client(survivor.url);
    for (const [versionId, key] of acked) {
      const history = await reader.history('crash', key);
      expect(history.some((v) => v.versionId === versionId), `${key} ${versionId}`).toBe(true);
    }
    // Nothing half-written: every chain and value checks out, straight from the store.
    const db = await KoruDelta.start({ store });
    try {
      expect(await db.verify()).toMatchObject({ ok: true, problems: [] });
    } finally {
      await db.close();
    }
    // And the survivor goes on writing.
    expect((await reader.put('crash', 'after', 1)).versionId).toMatch(/^[0-9a-f]{64}$/);
  });
});
