// Compare-and-set across servers: clients on three `kdelta start --store` processes
// increment a few hot counters by read-modify-write with `ifVersion`, retrying on
// VERSION_CONFLICT. No update may be lost: each counter ends at the number of its
// successful writes, and its history is exactly those writes, each on the version it read.
import { describe, expect, it } from 'vitest';
import { available, codeOf, usePostgres } from './harness.mjs';

const suite = usePostgres();

const KEYS = ['hot-a', 'hot-b', 'hot-c'];
const WORKERS_PER_SERVER = 3;
/** Successful increments each worker makes. */
const INCREMENTS = 12;
/** Attempts a worker may make before the test gives up on it (a livelock would show here). */
const MAX_ATTEMPTS = 2_000;

describe.skipIf(!available)('compare-and-set across three servers on one PostgreSQL', () => {
  it('loses no update on hot keys', async () => {
    const store = await suite.pg.createDatabase();
    const servers = await suite.servers(3, store);
    const clients = [];
    for (const s of servers) for (let i = 0; i < WORKERS_PER_SERVER; i++) clients.push(await suite.client(s.url));
    for (const key of KEYS) await clients[0].put('cas', key, { n: 0 });

    /** Per key: the versions this test's writes made, with the version each one read. */
    const acked = new Map(KEYS.map((k) => [k, []]));
    let conflicts = 0;
    const worker = async (client, w) => {
      let done = 0;
      for (let attempt = 0; done < INCREMENTS; attempt++) {
        if (attempt >= MAX_ATTEMPTS) throw new Error(`worker ${w} made ${done} of ${INCREMENTS} increments in ${MAX_ATTEMPTS} attempts`);
        const key = KEYS[(w + attempt) % KEYS.length];
        const read = await client.getVersion('cas', key);
        try {
          const written = await client.put('cas', key, { n: read.value.n + 1, by: w }, { ifVersion: read.versionId });
          acked.get(key).push({ versionId: written.versionId, read: read.versionId, n: read.value.n + 1 });
          done++;
        } catch (e) {
          if (codeOf(e) !== 'VERSION_CONFLICT') throw e;
          conflicts++;
        }
      }
    };
    await Promise.all(clients.map((c, w) => worker(c, w))).catch(suite.explain);

    const total = [...acked.values()].reduce((sum, list) => sum + list.length, 0);
    expect(total).toBe(clients.length * INCREMENTS);
    // Three servers racing on three keys: the race happened (else this tested nothing).
    expect(conflicts).toBeGreaterThan(0);
    for (const key of KEYS) {
      const mine = acked.get(key);
      // Read through every server: the same answer, the count of successful writes.
      for (const s of servers) {
        const c = await suite.client(s.url);
        expect((await c.get('cas', key)).n).toBe(mine.length);
      }
      const history = await clients[0].history('cas', key);
      // The initial version, then exactly the acknowledged writes, each chained on the version it read.
      expect(history.length).toBe(mine.length + 1);
      const byId = new Map(mine.map((a) => [a.versionId, a]));
      for (let i = 1; i < history.length; i++) {
        const a = byId.get(history[i].versionId);
        expect(a, `version ${i} of ${key} was acknowledged`).toBeDefined();
        expect(history[i].previousVersion).toBe(a.read);
        expect(history[i].previousVersion).toBe(history[i - 1].versionId);
        expect(history[i].value.n).toBe(i);
      }
    }
    expect(await clients[0].verify()).toMatchObject({ ok: true });
  });
});
