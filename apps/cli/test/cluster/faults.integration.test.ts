// Real members under faults: a SIGKILL in the middle of a write burst and a restart on
// the same data, outsiders holding the wrong cluster key (or none), acknowledgements
// that cannot be had once members die, and a member whose wall clock is 3 minutes behind.
import { existsSync } from 'node:fs';
import { systemTool } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { kdelta } from '../run.js';
import { call, converged, historyIds, logRecords, peers, startMember, status, stopAll, waitFor, type Member } from './support.js';

afterEach(stopAll);

/** One entry of `GET /v1/kv/:ns/:key/history`. */
interface HistoryEntry {
  readonly versionId: string;
  readonly previousVersion: string | null;
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
  readonly value: unknown;
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// The clock-skew test preloads Debian's libfaketime into a member.
const faketime = systemTool({ name: 'faketime', present: () => existsSync('/usr/bin/faketime'), apt: 'faketime' });
if (!faketime.available) console.log(`[cluster faults] clock-skew test skipped: ${faketime.reason}`);

/** Waits until every member sees every other one as healthy. */
async function allHealthy(members: readonly Member[]): Promise<void> {
  await waitFor('every member to see the others as healthy', async () =>
    (await Promise.all(members.map(peers))).every((ps) => ps.length === members.length - 1 && ps.every((p) => p.state === 'healthy')),
  );
}

async function history(m: Member, ns: string, key: string): Promise<HistoryEntry[]> {
  const r = await call(m, 'GET', `/v1/kv/${ns}/${key}/history`);
  expect(r.status).toBe(200);
  return r.body as HistoryEntry[];
}

/** HLC stamps are `WWWWWWWWWWWWWWW-LLLLLL` (fixed width): string order is clock order. */
const wallOf = (hlc: string): number => Number(hlc.split('-')[0]);

/** (hlc, node) order: the order that decides which version of a key is current. */
const clockOrder = (x: Pick<HistoryEntry, 'hlc' | 'node'>, y: Pick<HistoryEntry, 'hlc' | 'node'>): number =>
  x.hlc < y.hlc ? -1 : x.hlc > y.hlc ? 1 : x.node < y.node ? -1 : x.node > y.node ? 1 : 0;


describe('cluster faults', () => {
  it('loses no acknowledged write when a member is SIGKILLed mid-burst and restarted on its data', async () => {
    const a = await startMember();
    const b = await startMember({ join: [a.address] });
    const c = await startMember({ join: [a.address] });
    await allHealthy([a, b, c]);

    // Every version id a member answered 200 for, with its key.
    const acked: Array<{ key: string; id: string; on: string }> = [];
    const put = async (m: Member, key: string, value: unknown): Promise<void> => {
      const r = await call(m, 'PUT', `/v1/kv/burst/${key}`, value);
      expect(r.status, `PUT burst/${key} on ${m.id}: ${JSON.stringify(r.body)}`).toBe(200);
      acked.push({ key, id: r.body.versionId, on: m.id });
    };

    // Writes acknowledged by C before the burst, some on keys A and B will write too.
    for (let i = 0; i < 10; i++) await put(c, i < 5 ? `s${i}` : `c${i}`, { from: 'c', first: i });

    // The burst: at least 2,000 writes alternating between A and B, a third of them on 40
    // keys both write (and C too), the rest on 100 keys of each writer's own. It goes on until 300 more writes after C is back, so the restarted C
    // gets live pushes while anti-entropy catches it up (capped in case C never returns).
    const N = 2_000;
    let next = 0;
    let done = 0;
    let backAt = Infinity;
    const more = (i: number): boolean => i < 10_000 && (i < N || i < backAt + 300);
    const burst = Promise.all(
      Array.from({ length: 12 }, async () => {
        for (let i = next++; more(i); i = next++) {
          await put(i % 2 === 0 ? a : b, i % 3 === 0 ? `s${i % 40}` : `${i % 2 === 0 ? 'a' : 'b'}${i % 300}`, { i });
          done++;
        }
      }),
    );
    // C takes writes too, one at a time, until it dies: the ones it acknowledged are on its
    // disk, and some may not have been pushed to anyone yet when it was killed.
    let cAcked = 0;
    const cLoop = (async () => {
      for (let i = 0; ; i++) {
        const key = i % 3 === 0 ? `s${i % 40}` : `c${i % 50}`;
        let r;
        try {
          r = await call(c, 'PUT', `/v1/kv/burst/${key}`, { from: 'c', i });
        } catch {
          return; // killed: the write in flight is not acknowledged
        }
        expect(r.status).toBe(200);
        acked.push({ key, id: r.body.versionId, on: c.id });
        cAcked++;
      }
    })();

    await waitFor('a third of the burst', () => done >= 650, 30_000);
    await c.kill();
    await cLoop;
    expect(cAcked).toBeGreaterThan(0);
    // Keep writing while C is down, then bring it back on the same directory mid-burst.
    await waitFor('two thirds of the burst', () => done >= 1_300, 30_000);
    const c2 = await startMember({ dir: c.dir, join: [a.address] });
    backAt = next;
    expect(c2.id).toBe(c.id);
    await burst;
    expect(done).toBe(Math.max(N, backAt + 300));

    const root = await converged([a, b, c2], 30_000);
    const statuses = await Promise.all([a, b, c2].map(status));
    for (const s of statuses) {
      expect(s.stateRoot).toBe(root);
      // Every acknowledged write, plus at most the one C was answering when it died
      // (committed on C, answer lost).
      expect(s.versions).toBeGreaterThanOrEqual(acked.length);
      expect(s.versions).toBeLessThanOrEqual(acked.length + 1);
    }
    // Every acknowledged version is in its key's history on every member.
    const byKey = new Map<string, string[]>();
    for (const w of acked) byKey.set(w.key, [...(byKey.get(w.key) ?? []), w.id]);
    const missing: string[] = [];
    await pool([...byKey], 16, async ([key, ids]) => {
      for (const m of [a, b, c2]) {
        const have = new Set(await historyIds(m, 'burst', key));
        for (const id of ids) if (!have.has(id)) missing.push(`${m.id} lacks burst/${key} ${id} (acknowledged by ${acked.find((w) => w.id === id)!.on})`);
      }
    });
    expect(missing).toEqual([]);
  });

  it('refuses members holding another cluster key or none, and keeps replicating between the keyed ones', async () => {
    const a = await startMember({ key: 'k1' });
    const b = await startMember({ key: 'k1', join: [a.address] });
    await allHealthy([a, b]);
    expect((await call(a, 'PUT', '/v1/kv/keyed/a1', { from: 'a' })).status).toBe(200);
    const root = await converged([a, b]);
    const before = await status(a);

    // Outsiders: the wrong key, and no key at all.
    const wrong = await startMember({ key: 'k2', join: [a.address] });
    const open = await startMember({ join: [a.address] });
    expect((await call(wrong, 'PUT', '/v1/kv/outside/w1', { from: 'wrong' })).status).toBe(200);
    expect((await call(open, 'PUT', '/v1/kv/outside/o1', { from: 'open' })).status).toBe(200);

    // A says why it refused each of them.
    await waitFor('a to log both refusals', () => {
      const refused = logRecords(a, 'cluster peer refused').filter((r) => r.code === 'UNAUTHORIZED');
      return [wrong.id, open.id].every((id) => refused.some((r) => r.peer === id));
    });
    // A few probe and anti-entropy periods (500 ms and 1 s), for anything that could leak.
    await sleep(2_500);
    for (const [m, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const s = await status(m);
      expect(s.stateRoot).toBe(root);
      expect(s.versions).toBe(before.versions);
      expect((await peers(m)).map((p) => p.id)).toEqual([other.id]);
      expect((await call(m, 'GET', '/v1/kv/outside/w1')).status).toBe(404);
      expect((await call(m, 'GET', '/v1/kv/outside/o1')).status).toBe(404);
    }
    // The outsiders learned nobody and received nothing (no snapshot, no pushes).
    for (const m of [wrong, open]) {
      expect(await peers(m)).toEqual([]);
      expect((await call(m, 'GET', '/v1/kv/keyed/a1')).status).toBe(404);
    }

    // The keyed members still replicate between themselves.
    expect((await call(b, 'PUT', '/v1/kv/keyed/b1', { from: 'b' })).status).toBe(200);
    await waitFor('b1 on a', async () => (await call(a, 'GET', '/v1/kv/keyed/b1')).status === 200);
    expect((await call(a, 'GET', '/v1/kv/keyed/b1')).body).toEqual({ from: 'b' });
    expect(await converged([a, b])).not.toBe(root);
  });

  it('waits for quorum or all acknowledgements and answers 504 REPLICATION_TIMEOUT when they cannot be had', async () => {
    const a = await startMember();
    const b = await startMember({ join: [a.address] });
    const c = await startMember({ join: [a.address] });
    await allHealthy([a, b, c]);

    // Everyone up: both levels are met, and the acknowledged value is on the others already.
    const q = await call(a, 'PUT', '/v1/kv/q/k1?ack=quorum', { n: 1 });
    expect(q.status).toBe(200);
    const all = await call(a, 'PUT', '/v1/kv/q/k2?ack=all', { n: 2 });
    expect(all.status).toBe(200);
    // `all` means stored on B and C when A answers: no waiting here.
    for (const m of [b, c]) expect(await historyIds(m, 'q', 'k2')).toContain(all.body.versionId);

    // One of three gone: a quorum (2 of 3) is still there, all is not.
    await c.kill();
    expect((await call(a, 'PUT', '/v1/kv/q/k3?ack=quorum', { n: 3 })).status).toBe(200);
    const t0 = Date.now();
    const noAll = await call(a, 'PUT', '/v1/kv/q/k4?ack=all', { n: 4 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_500); // the default 5 s ack timeout
    expect(noAll.status).toBe(504);
    expect(noAll.body.error.code).toBe('REPLICATION_TIMEOUT');
    expect(noAll.body.error.details).toMatchObject({ acked: 2, required: 3, members: 3 });

    // Two of three gone: no quorum. REST and the CLI both wait the 5 s, so run them together.
    await b.kill();
    const [noQuorum, cli] = await Promise.all([
      call(a, 'PUT', '/v1/kv/q/k5?ack=quorum', { n: 5 }),
      kdelta(['--url', a.url, 'set', 'k/x', '1', '--ack', 'quorum']),
    ]);
    expect(noQuorum.status).toBe(504);
    expect(noQuorum.body.error.code).toBe('REPLICATION_TIMEOUT');
    expect(noQuorum.body.error.details).toMatchObject({ acked: 1, required: 2, members: 3 });
    expect(noQuorum.body.error.message).toContain('1 of 2');
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('REPLICATION_TIMEOUT');
    // Not acknowledged, but stored on the survivor, where it can be read.
    expect((await call(a, 'GET', '/v1/kv/q/k5')).body).toEqual({ n: 5 });
    expect((await call(a, 'GET', '/v1/kv/q/k4')).body).toEqual({ n: 4 });
    expect((await call(a, 'GET', '/v1/kv/k/x')).body).toBe(1);
  });

  it.skipIf(!faketime.available)('orders versions by hybrid logical clock when one member runs 3 minutes behind', async () => {
    const a = await startMember();
    // libfaketime preloaded into node itself, as `faketime -f -3m` would set it up. Not
    // `wrapper: ['faketime', ...]`: faketime forks node as its child, so kill() and stopAll()
    // would SIGKILL faketime and leave node running. `$LIB` is expanded by the dynamic
    // loader (lib/x86_64-linux-gnu, ...). Without the library node would run on true time,
    // and the check of B's first stamp below fails.
    const b = await startMember({ join: [a.address], env: { LD_PRELOAD: '/usr/$LIB/faketime/libfaketime.so.1', FAKETIME: '-3m' } });
    await allHealthy([a, b]);
    const ns = 'skew';
    // What each member acknowledged, in the order it did (each member is written to by one
    // sequential loop at a time).
    const writes: Record<'a' | 'b', Array<{ key: string; versionId: string; previousVersion: string | null; hlc: string; node: string; deleted: boolean }>> = { a: [], b: [] };
    const write = async (name: 'a' | 'b', method: 'PUT' | 'DELETE', key: string, value?: unknown): Promise<(typeof writes)['a'][number] | undefined> => {
      const r = await call(name === 'a' ? a : b, method, `/v1/kv/${ns}/${key}`, value);
      // A delete finds nothing to delete when the key's current version is a tombstone.
      if (method === 'DELETE' && r.status === 404) return undefined;
      expect(r.status, `${method} ${key} on ${name}: ${JSON.stringify(r.body)}`).toBe(200);
      writes[name].push(r.body);
      return r.body;
    };

    // B's clock really is behind: its first version, before it observed any of A's, is
    // stamped about 3 minutes in the past.
    const first = (await write('b', 'PUT', 'first', { by: 'b' }))!;
    expect(Date.now() - wallOf(first.hlc)).toBeGreaterThan(150_000);
    expect(Date.now() - wallOf(first.hlc)).toBeLessThan(210_000);

    // Concurrently: both write (and delete) the same 8 keys, without waiting for each other.
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    await Promise.all(
      (['a', 'b'] as const).map(async (name) => {
        for (let i = 0; i < 80; i++) {
          const key = keys[(i * 3 + (name === 'a' ? 0 : 1)) % keys.length]!;
          if (i % 5 === 4) await write(name, 'DELETE', key);
          else await write(name, 'PUT', key, { by: name, i });
        }
      }),
    );
    await converged([a, b]);

    // Alternately: A writes, B waits until it has A's version, then writes (or deletes) the
    // same key. B's wall clock is 3 minutes behind A's: only HLC receive puts B's version
    // after A's, and so makes it the current one.
    const lastOfB = new Map<string, string>();
    for (const [i, key] of [...keys, 'first'].entries()) {
      const va = (await write('a', 'PUT', key, { by: 'a', round: 'alt' }))!;
      await waitFor(`${key} from a on b`, async () => (await historyIds(b, ns, key)).includes(va.versionId));
      const vb = (await write('b', i % 2 === 0 ? 'DELETE' : 'PUT', key, i % 2 === 0 ? undefined : { by: 'b', round: 'alt' }))!;
      expect(vb).toBeDefined();
      expect(vb.previousVersion).toBe(va.versionId);
      expect(vb.hlc > va.hlc, `b's ${vb.hlc} after a's ${va.hlc}`).toBe(true);
      lastOfB.set(key, vb.versionId);
    }
    await converged([a, b]);

    for (const key of [...keys, 'first']) {
      const [ha, hb] = [await history(a, ns, key), await history(b, ns, key)];
      // The same history on both, in clock order.
      expect(hb.map((v) => v.versionId)).toEqual(ha.map((v) => v.versionId));
      expect([...ha].sort(clockOrder).map((v) => v.versionId)).toEqual(ha.map((v) => v.versionId));
      // The winner is the highest (hlc, node), and both serve it.
      const winner = [...ha].sort(clockOrder).at(-1)!;
      for (const m of [a, b]) {
        const got = await call(m, 'GET', `/v1/kv/${ns}/${key}`);
        if (winner.deleted) expect(got.status, `${key} on ${m.id}`).toBe(404);
        else {
          expect(got.status, `${key} on ${m.id}`).toBe(200);
          expect(got.body).toEqual(winner.value);
        }
      }
      // After the alternate round B's version (a put or a tombstone) is the winner.
      expect(winner.versionId).toBe(lastOfB.get(key));
      // Per node, clock stamps are strictly increasing; a successor is after its predecessor.
      for (const node of [a.id, b.id]) {
        const stamps = ha.filter((v) => v.node === node).map((v) => v.hlc);
        for (let j = 1; j < stamps.length; j++) expect(stamps[j]! > stamps[j - 1]!, `${key} ${node} ${stamps[j - 1]} then ${stamps[j]}`).toBe(true);
      }
      const byId = new Map(ha.map((v) => [v.versionId, v]));
      for (const v of ha) if (v.previousVersion !== null) expect(v.hlc > byId.get(v.previousVersion)!.hlc, `${v.versionId} after its predecessor`).toBe(true);
    }
    // Each member's clock is monotonic over all its writes, in the order they were made,
    // and every acknowledged version is on both members.
    for (const name of ['a', 'b'] as const) {
      const ws = writes[name];
      for (let j = 1; j < ws.length; j++) expect(ws[j]!.hlc > ws[j - 1]!.hlc, `${name} write ${j}: ${ws[j - 1]!.hlc} then ${ws[j]!.hlc}`).toBe(true);
      for (const w of ws) for (const m of [a, b]) expect(await historyIds(m, ns, w.key)).toContain(w.versionId);
    }
  });
});
