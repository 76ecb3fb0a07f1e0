// Three real members, each behind a fault-injecting proxy (./proxy.ts) that every cluster
// link to it runs through. Network faults between them — a partition, a slow direction,
// a one-way drop, connection resets — while both sides keep writing, including to the
// same keys and deleting keys the other side updates. Once healed, every member must hold
// every version written anywhere, the same history of every key, and the same current
// version: the one with the highest (hlc, node), a delete included.
import { afterEach, describe, expect, it } from 'vitest';
import { expectSameReplicas, FaultNet, Ledger, newer, startBehindProxies, type VersionMeta } from './proxy.js';
import { call, converged, peers, stopAll, waitFor, type Member } from './support.js';

let net: FaultNet | undefined;

afterEach(async () => {
  await net?.close();
  net = undefined;
  await stopAll();
});

const NS = 'p';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The state `viewer` reports for `peer`. */
async function stateOf(viewer: Member, peer: Member): Promise<string | undefined> {
  return (await peers(viewer)).find((p) => p.id === peer.id)?.state;
}

/** Keys every scenario writes before the fault, so the fault can put them in conflict. */
async function writeBefore(ledger: Ledger, [a, b, c]: readonly Member[], tags: readonly string[]): Promise<void> {
  for (let i = 0; i < 6; i++) await ledger.put([a, b, c][i % 3]!, NS, `pre${i}`, { pre: i });
  for (let i = 0; i < 4; i++) await ledger.put(a!, NS, `same${i}`, { same: i, by: 'before' });
  for (const t of tags) for (const k of ['dA0', 'dA1', 'dB0', 'dB1']) await ledger.put(b!, NS, `${k}-${t}`, { k, by: 'before' });
}

/**
 * Conflicting writes from the two sides `x` (alone) and `y`, `z` (together). The order in
 * real time (with a gap longer than a clock tick) decides which of two conflicting writes
 * has the higher clock; which one must win is checked from the clocks the writes returned.
 * - same*: updated on both sides;
 * - dA0-TAG: y updates, then x deletes (the delete is newer); dA1-TAG: x deletes, then z updates;
 * - dB0-TAG: x updates, then y deletes; dB1-TAG: y deletes, then x updates;
 * - fresh*: created on both sides, never seen before (two first versions);
 * - only*: one side only.
 */
async function writeConflicts(ledger: Ledger, x: Member, y: Member, z: Member, tag: string): Promise<Map<string, VersionMeta[]>> {
  const d = (k: string): string => `${k}-${tag}`;
  const byKey = new Map<string, VersionMeta[]>();
  const w = async (p: Promise<VersionMeta>): Promise<void> => {
    const v = await p;
    byKey.set(v.key, [...(byKey.get(v.key) ?? []), v]);
    // Apart by more than a millisecond: each write's clock is later than the previous one's.
    await sleep(15);
  };
  for (let i = 0; i < 4; i++) {
    await w(ledger.put(x, NS, `same${i}`, { same: i, by: x.id, tag }));
    await w(ledger.put(i % 2 === 0 ? y : z, NS, `same${i}`, { same: i, by: 'yz', tag }));
  }
  await w(ledger.put(y, NS, d('dA0'), { by: y.id, tag }));
  await w(ledger.del(x, NS, d('dA0')));
  await w(ledger.del(x, NS, d('dA1')));
  await w(ledger.put(z, NS, d('dA1'), { by: z.id, tag }));
  await w(ledger.put(x, NS, d('dB0'), { by: x.id, tag }));
  await w(ledger.del(y, NS, d('dB0')));
  await w(ledger.del(y, NS, d('dB1')));
  await w(ledger.put(x, NS, d('dB1'), { by: x.id, tag }));
  await w(ledger.put(x, NS, `fresh-${tag}`, { by: x.id }));
  await w(ledger.put(z, NS, `fresh-${tag}`, { by: z.id }));
  for (let i = 0; i < 3; i++) {
    await w(ledger.put(x, NS, `only-${tag}-x${i}`, { i }));
    await w(ledger.put([y, z][i % 2]!, NS, `only-${tag}-yz${i}`, { i }));
  }
  return byKey;
}

/** Asserts each key's winner is its newest write by (hlc, node), and that both kinds of outcome happened. */
function expectWinners(winners: Map<string, VersionMeta>, written: Map<string, VersionMeta[]>, tags: readonly string[]): void {
  for (const [key, vs] of written) {
    const newest = vs.reduce((best, v) => (newer(v, best) ? v : best));
    expect(winners.get(`${NS}/${key}`)?.versionId, `winner of ${key}`).toBe(newest.versionId);
  }
  // The scenario was built so that these outcomes happen (15 ms apart in real time).
  for (const t of tags) {
    expect(winners.get(`${NS}/dA0-${t}`)?.deleted, `dA0-${t}: a delete newer than the other side’s update`).toBe(true);
    expect(winners.get(`${NS}/dA1-${t}`)?.deleted, `dA1-${t}: an update newer than the other side’s delete`).toBe(false);
    expect(winners.get(`${NS}/dB0-${t}`)?.deleted, `dB0-${t}`).toBe(true);
    expect(winners.get(`${NS}/dB1-${t}`)?.deleted, `dB1-${t}`).toBe(false);
  }
}

describe('a three-member cluster behind faulty links', () => {
  it('survives a partition {A} | {B, C} with writes on both sides, and converges once healed', async () => {
    const started = Date.now();
    net = new FaultNet();
    const all: Member[] = await startBehindProxies(net, 3);
    const [a, b, c] = [all[0]!, all[1]!, all[2]!];
    const ledger = new Ledger();
    await writeBefore(ledger, all, ['cut']);
    await converged(all);

    // The partition: every link between A and the others is closed, new ones refused.
    net.cut(a.id, b.id);
    net.cut(a.id, c.id);
    const written = await writeConflicts(ledger, a, b, c, 'cut');
    // Each side finds the other gone: suspect first, unreachable after the suspicion timeout
    // (3 s). The partition lasts until both sides say unreachable, so healing has to bring
    // back members given up on, to which pushes are no longer even tried.
    const gone = (s: string | undefined): boolean => s === 'suspect' || s === 'unreachable';
    await waitFor('A to see B and C suspect, and B and C to see A suspect', async () =>
      gone(await stateOf(a, b)) && gone(await stateOf(a, c)) && gone(await stateOf(b, a)) && gone(await stateOf(c, a)),
    8_000);
    await waitFor('A to see B and C unreachable, and B and C to see A unreachable', async () =>
      (await stateOf(a, b)) === 'unreachable' && (await stateOf(a, c)) === 'unreachable' && (await stateOf(b, a)) === 'unreachable' && (await stateOf(c, a)) === 'unreachable',
    12_000);
    for (let i = 0; i < 3; i++) {
      await ledger.put(a, NS, `late-a${i}`, { i });
      await ledger.put([b, c][i % 2]!, NS, `late-bc${i}`, { i });
      const v = await ledger.put(a, NS, `same${i}`, { late: a.id });
      written.get(v.key)!.push(v);
    }
    // The majority side still works as a cluster.
    expect(await stateOf(b, c)).toBe('healthy');
    expect(await stateOf(c, b)).toBe('healthy');
    await converged([b, c]);
    // Nothing crossed the cut (the proxies refused the links the members kept dialing).
    expect((await call(b, 'GET', `/v1/kv/${NS}/only-cut-x0`)).status).toBe(404);
    expect((await call(a, 'GET', `/v1/kv/${NS}/only-cut-yz0`)).status).toBe(404);
    expect((await call(c, 'GET', `/v1/kv/${NS}/late-a0`)).status).toBe(404);
    expect(net.stats.refused).toBeGreaterThan(0);
    expect(await ledger.holdsAll(a)).toBe(false);

    net.heal();
    await waitFor('every member to see the others healthy again', async () => (await Promise.all(all.map(peers))).every((ps) => ps.every((p) => p.state === 'healthy')), 15_000);
    await converged(all, 20_000);
    const winners = await expectSameReplicas(all, ledger);
    expectWinners(winners, written, ['cut']);
    console.log(`partition: ${ledger.total} versions, converged ${Date.now() - started} ms after start; proxy ${JSON.stringify(net.stats)}`);
  });

  it('converges after a slow direction, a one-way drop A → B and connection resets, once healed', async () => {
    const started = Date.now();
    net = new FaultNet();
    const all: Member[] = await startBehindProxies(net, 3);
    const [a, b, c] = [all[0]!, all[1]!, all[2]!];
    const ledger = new Ledger();
    await writeBefore(ledger, all, ['bh', 'rst']);
    await converged(all);

    // B → C is slow (still under the 250 ms probe timeout); A → B is dropped one way:
    // links stay open, A's bytes to B are held back (B's to A still flow).
    net.delay(b.id, c.id, 200);
    net.blackhole(a.id, b.id, 'flush');
    const written = await writeConflicts(ledger, a, b, c, 'bh');
    // B's writes reach A over B's link to A (requests flow B → A; only A's answers are held).
    const bWrites = [...written.values()].flat().filter((v) => v.node === b.id);
    await waitFor("A to hold B's writes", async () => {
      for (const v of bWrites) if (!(await call(a, 'GET', `/v1/kv/${NS}/${v.key}/history`)).body.some((h: VersionMeta) => h.versionId === v.versionId)) return false;
      return true;
    });
    expect(net.stats.heldFrames, 'the blackhole held frames back').toBeGreaterThan(0);
    expect(net.stats.delayedFrames, 'the delay slowed frames').toBeGreaterThan(0);

    // Every connection between every pair dies at once (RST), while the faults stay.
    const resets = [net.reset(a.id, b.id), net.reset(b.id, c.id), net.reset(a.id, c.id)];
    expect(resets.every((n) => n > 0), `connections reset per pair: ${resets.join(', ')}`).toBe(true);
    const more = await writeConflicts(ledger, b, c, a, 'rst');
    // The members dial again: new links between A and B start, and A's side of them is held.
    await waitFor('a new connection between A and B', () => net!.connections(a.id, b.id) > 0);
    await sleep(1_000);

    // Healed with `flush`: what was held goes on late, into links that may have given up.
    net.heal();
    await waitFor('every member to see the others healthy again', async () => (await Promise.all(all.map(peers))).every((ps) => ps.every((p) => p.state === 'healthy')), 15_000);
    await converged(all, 20_000);
    const winners = await expectSameReplicas(all, ledger);
    for (const [k, vs] of more) written.set(k, [...(written.get(k) ?? []), ...vs]);
    expectWinners(winners, written, ['bh', 'rst']);
    console.log(`delay/blackhole/reset: ${ledger.total} versions, converged ${Date.now() - started} ms after start; proxy ${JSON.stringify(net.stats)}`);
  });
});
