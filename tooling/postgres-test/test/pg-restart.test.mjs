// PostgreSQL crashes and restarts under two `kdelta start --store` processes in the middle
// of writes and reads: while it is down clients get UNAVAILABLE (503 over REST), never
// wrong data; once it is back the same servers (not restarted) write again, every
// acknowledged write is there, and `verify` on the store is clean.
import { setTimeout as sleep } from 'node:timers/promises';
import { KoruDelta } from '@koru/delta';
import { describe, expect, it } from 'vitest';
import { available, codeOf, eventually, usePostgres } from './harness.mjs';

const suite = usePostgres();

const WRITERS_PER_SERVER = 3;
/** Bound on each loop: the test stops them long before. */
const MAX_OPS = 20_000;

describe.skipIf(!available)('PostgreSQL restarted under load', () => {
  it('gives UNAVAILABLE then recovery, never wrong data or a lost acknowledged write', async () => {
    const store = await suite.pg.createDatabase();
    const servers = await suite.servers(2, store);
    const clients = [];
    for (const s of servers) for (let i = 0; i < WRITERS_PER_SERVER; i++) clients.push(await suite.client(s.url));

    /** key → the value of its last acknowledged write, and its versionId. */
    const acked = new Map();
    const errors = new Map();
    const note = (code) => errors.set(code, (errors.get(code) ?? 0) + 1);
    let wrongReads = 0;
    let stop = false;
    let ackedSinceRecovery = 0;
    let recovered = false;

    // Writers over WebSocket: a new key per write, so an unknown outcome touches no other.
    const writer = async (client, w) => {
      for (let i = 0; i < MAX_OPS && !stop; i++) {
        const key = `w${w}-${i}`;
        try {
          const v = await client.put('load', key, { w, i });
          acked.set(key, { value: { w, i }, versionId: v.versionId });
          if (recovered) ackedSinceRecovery++;
        } catch (e) {
          note(codeOf(e) ?? String(e));
          await sleep(20);
        }
        // Read back an earlier acknowledged write: its value, or an error, never another value.
        const earlier = `w${w}-${Math.floor(i / 2)}`;
        const expected = acked.get(earlier);
        if (expected === undefined) continue;
        try {
          const got = await client.getVersion('load', earlier);
          if (got.versionId !== expected.versionId || got.value.i !== expected.value.i) wrongReads++;
        } catch (e) {
          note(codeOf(e) ?? String(e));
        }
      }
    };
    // A writer over REST: 503 with UNAVAILABLE while PostgreSQL is down.
    const statuses = new Map();
    const restWriter = async () => {
      for (let i = 0; i < MAX_OPS && !stop; i++) {
        const key = `rest-${i}`;
        try {
          const res = await fetch(`${servers[i % 2].url}/v1/kv/load/${key}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }), signal: AbortSignal.timeout(15_000) });
          const body = await res.json();
          const status = res.status === 200 ? '200' : `${res.status} ${body.error?.code}`;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (res.status === 200) acked.set(key, { value: { i }, versionId: body.versionId });
          else await sleep(20);
        } catch (e) {
          statuses.set(String(e), (statuses.get(String(e)) ?? 0) + 1);
        }
      }
    };
    const load = Promise.all([...clients.map((c, w) => writer(c, w)), restWriter()]);
    try {
      await eventually('writes before the crash', () => acked.size >= 200, 30_000);
      await suite.pg.kill();
      // Down for a moment, with the load going on.
      await eventually('UNAVAILABLE answers while PostgreSQL is down', () => (errors.get('UNAVAILABLE') ?? 0) >= 5 && statuses.has('503 UNAVAILABLE'), 30_000);
      await suite.pg.restart();
      recovered = true;
      await eventually('writes after the restart', () => ackedSinceRecovery >= 200, 60_000);
    } catch (e) {
      suite.explain(e);
    } finally {
      stop = true;
      await load;
    }

    expect(wrongReads).toBe(0);
    // The only failure is the store being unreachable: no other code, no error without one.
    expect([...errors.keys()]).toEqual(['UNAVAILABLE']);
    expect([...statuses.keys()].sort()).toEqual(['200', '503 UNAVAILABLE']);

    const db = await KoruDelta.start({ store });
    try {
      expect(await db.verify()).toMatchObject({ ok: true, problems: [] });
      for (const [key, { versionId }] of acked) expect((await db.getVersion('load', key)).versionId, key).toBe(versionId);
    } finally {
      await db.close();
    }
  });
});
