// Three real members whose links run through proxies (./proxy.ts) that mangle WebSocket
// frames after the handshake, in both directions of every link, while writes flow:
// - reordered frames: requests and answers overtake each other (answers are matched by id,
//   pushes may arrive before the versions they follow);
// - duplicated frames: every message arrives twice (the frame MAC does not stop a frame
//   replayed into its own link), so applying a version must be idempotent;
// - corrupted frames: one flipped byte, which the frame MAC must catch, closing that link.
// Each time: every version written reaches every member exactly once, and they converge.
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expectSameReplicas, FaultNet, Ledger, startBehindProxies, type RelayMode } from './proxy.js';
import { converged, stopAll, waitFor, type Member } from './support.js';

const NS = 'r';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sets `mode` on both directions of every pair of `members`. */
function relayAll(net: FaultNet, members: readonly Member[], mode: RelayMode | undefined): void {
  for (const x of members) for (const y of members) if (x !== y) net.relay(x.id, y.id, mode);
}

/**
 * Every member writes `perMember` times at once with the others, to keys drawn from
 * `keys` shared ones (so the same keys are updated on several members concurrently),
 * values of varied size, a few ms apart: a steady flow of pushes on every link.
 */
async function writeLoad(ledger: Ledger, members: readonly Member[], seed: number, perMember: number, keys: number): Promise<void> {
  await Promise.all(
    members.map(async (m, w) => {
      const rnd = prng(seed + w);
      for (let i = 0; i < perMember; i++) {
        await ledger.put(m, NS, `k${Math.floor(rnd() * keys)}`, { w, i, pad: 'x'.repeat(Math.floor(rnd() * 300)) });
        await sleep(Math.floor(rnd() * 15));
      }
    }),
  );
}

/** Waits until every member holds every version written (possibly more, and not yet converged). */
async function allArrived(ledger: Ledger, members: readonly Member[], timeoutMs = 20_000): Promise<void> {
  await waitFor('every member to hold every version written', async () => (await Promise.all(members.map((m) => ledger.holdsAll(m)))).every(Boolean), timeoutMs);
}

/** Integrity failures a member logged: peers whose frames failed its MAC check. */
function integrityFailures(m: Member): string[] {
  const peers: string[] = [];
  for (const line of m.log().split('\n')) {
    if (!line.includes('failed its integrity check')) continue;
    let rec: { msg?: string; reason?: string; peer?: string };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue; // a line still being written
    }
    if (rec.msg === 'cluster link closed' && rec.reason === 'a frame failed its integrity check') peers.push(String(rec.peer));
  }
  return peers;
}

describe('cluster links through a frame-mangling relay', () => {
  let net: FaultNet | undefined;
  afterEach(async () => {
    await net?.close();
    net = undefined;
    await stopAll();
  });

  it('reordered frames: every version arrives once and the members converge', async () => {
    const seed = fcSeed('relay reorder');
    const started = Date.now();
    net = new FaultNet(seed);
    const all = await startBehindProxies(net, 3);
    const ledger = new Ledger();
    relayAll(net, all, { reorder: true });
    await writeLoad(ledger, all, seed, 40, 12);
    expect(net.stats.reordered, 'frames were swapped').toBeGreaterThan(20);
    // Still reordering: convergence must not depend on in-order delivery.
    await allArrived(ledger, all);
    await converged(all);
    await expectSameReplicas(all, ledger);
    console.log(`reorder: ${ledger.total} versions, ${Date.now() - started} ms; proxy ${JSON.stringify(net.stats)}`);
  });

  it('corrupted frames close the link that carried them, nothing of them is stored, and the members converge once corruption stops', async () => {
    const seed = fcSeed('relay corrupt');
    const started = Date.now();
    net = new FaultNet(seed);
    // Their server logs in member.log(), where each receiver says why it closed a link.
    const all = await startBehindProxies(net, 3);
    const byId = new Map(all.map((m) => [m.id, m]));
    const ledger = new Ledger();
    // Some writes replicate cleanly first.
    await writeLoad(ledger, all, seed, 5, 12);
    await allArrived(ledger, all);
    // One frame in five damaged, both directions of every link.
    relayAll(net, all, { corrupt: 0.2 });
    await writeLoad(ledger, all, seed + 100, 40, 12);
    await waitFor('some corrupted frames to reach their receivers', () => net!.corruptions.length >= 10, 10_000);

    // Each connection that delivered a corrupted frame was closed, by the receiving member
    // (the first side to close is one that received a damaged frame), soon after.
    await waitFor('every connection that carried a corrupted frame to close', () => net!.corruptions.every((c) => c.closedAt !== undefined), 5_000);
    const conns = new Map<number, typeof net.corruptions>();
    for (const c of net.corruptions) conns.set(c.conn, [...(conns.get(c.conn) ?? []), c]);
    for (const [id, cs] of conns) {
      expect(cs.some((c) => c.closedBy === 'receiver'), `connection ${id} closed by a receiver of a corrupted frame: ${JSON.stringify(cs)}`).toBe(true);
      const first = Math.min(...cs.map((c) => c.at));
      expect(cs[0]!.closedAt! - first, `connection ${id} closed soon after its first corrupted frame`).toBeLessThan(2_000);
    }
    // The receivers say why in their logs, naming the sender; no frame failed that was not damaged.
    let logged = 0;
    for (const [to, m] of byId) {
      const failures = integrityFailures(m);
      logged += failures.length;
      for (const from of new Set(net.corruptions.filter((c) => c.to === to && c.closedBy === 'receiver').map((c) => c.from))) {
        expect(failures, `${to} logged a frame from ${from} failing its integrity check`).toContain(from);
      }
    }
    expect(logged).toBeGreaterThanOrEqual([...conns.values()].filter((cs) => cs.some((c) => c.closedBy === 'receiver')).length);
    expect(logged, 'integrity failures logged, at most one per corrupted frame').toBeLessThanOrEqual(net.corruptions.length);

    // Corruption off: every version written arrives, each once and intact, and nothing else.
    net.heal();
    await allArrived(ledger, all);
    await converged(all);
    await expectSameReplicas(all, ledger);
    console.log(
      `corrupt: ${ledger.total} versions, ${net.corruptions.length} corrupted frames delivered over ${conns.size} connections, ${logged} integrity failures logged, ${Date.now() - started} ms; proxy ${JSON.stringify(net.stats)}`,
    );
  });
});

// Duplicated (and reordered) frames: every push may arrive twice, out of order.
describe('cluster links through a relay that duplicates (and reorders) frames', () => {
  let net: FaultNet | undefined;
  let all: Member[] = [];
  const ledger = new Ledger();
  afterAll(async () => {
    await net?.close();
    await stopAll();
  });

  it('bring every version written to every member, each stored once, and converge', async () => {
    const seed = fcSeed('relay duplicate');
    net = new FaultNet(seed);
    all = await startBehindProxies(net, 3);
    relayAll(net, all, { duplicate: true, reorder: true });
    await writeLoad(ledger, all, seed, 30, 12);
    expect(net.stats.duplicated, 'frames were duplicated').toBeGreaterThan(50);
    await allArrived(ledger, all);
    // A duplicated push is applied once (two applies of one version in flight at once
    // used to store it twice, and the member's root then never matched again).
    net.heal();
    await expectSameReplicas(all, ledger);
    await converged(all, 10_000);
  });
});
