// Deterministic simulation: clusters of 3–4 nodes on a seeded network that delays,
// drops, duplicates, corrupts and partitions frames, with skewed clocks, restarts and
// conflicting writes. After the faults stop and a quiet period, every node must hold
// every version written anywhere and agree on one state root and every current value.
// A failing seed replays exactly: KORU_SIM_SEED=<seed> (and KORU_SIM_SEEDS=1).
import { ClusterNode } from '@koru/cluster';
import { KoruDelta, type Version } from '@koru/delta';
import { MemoryAdapter } from '@koru/storage';
import { appendFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { World } from './sim.js';

interface SimNode {
  readonly address: string;
  readonly db: KoruDelta;
  cluster: ClusterNode;
  readonly skew: number;
  up: boolean;
}

const KEYS = ['a', 'b', 'c', 'd', 'e'];

/** Runs one seeded scenario; returns what the checks need (and a summary for the log). */
async function scenario(seed: number): Promise<{ nodes: SimNode[]; written: Version[]; world: World }> {
  const world = new World(seed);
  const r = world.random;
  const count = 3 + Math.floor(r() * 2);
  const nodes: SimNode[] = [];
  const written: Version[] = [];
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  const startCluster = (n: SimNode, join: string[]): ClusterNode =>
    ClusterNode.start({
      db: n.db,
      transport: world.transport(n.address),
      address: n.address,
      join,
      clock: world.clock(n.skew),
      random: r,
      nonce: () => hex(64),
      clusterKey: 'sim-key',
      ackTimeoutMs: 2_000,
      ...(process.env.KORU_SIM_LOG ? { log: (l: string, m: string, f?: object) => appendFileSync(process.env.KORU_SIM_LOG!, `${world.now} ${n.address} ${l} ${m} ${JSON.stringify(f)}\n`) } : {}),
    });
  // Faults from the start, snapshots included.
  world.faults = { minDelayMs: 1, maxDelayMs: 1 + Math.floor(r() * 60), drop: r() * 0.05, duplicate: r() * 0.05, corrupt: r() * 0.01 };
  for (let i = 0; i < count; i++) {
    // Clocks up to two minutes apart: the winner must still be the same everywhere.
    const skew = Math.floor((r() - 0.5) * 240_000);
    const address = `10.0.0.${i + 1}:7000`;
    const db = await KoruDelta.start({ adapter: new MemoryAdapter(`node-${i}-${hex(6)}`), now: () => world.now + skew });
    const n: SimNode = { address, db, cluster: undefined as unknown as ClusterNode, skew, up: true };
    // The first node holds data before anyone joins: later nodes start with a snapshot.
    if (i === 0) for (const key of KEYS) written.push(await db.put('sim', key, { by: address, v: 0 }));
    n.cluster = startCluster(n, i === 0 ? [] : [nodes[Math.floor(r() * i)]!.address]);
    nodes.push(n);
    await world.run(Math.floor(r() * 400));
  }
  world.faults = { minDelayMs: 1, maxDelayMs: 1 + Math.floor(r() * 60), drop: r() * 0.05, duplicate: r() * 0.05, corrupt: r() * 0.01 };

  // Ten seconds of writes, deletes, partitions, link resets and restarts.
  const end = world.now + 10_000;
  while (world.now < end) {
    const roll = r();
    const n = nodes[Math.floor(r() * nodes.length)]!;
    const key = KEYS[Math.floor(r() * KEYS.length)]!;
    if (roll < 0.55) {
      written.push(await n.db.put('sim', key, { by: n.address, at: world.now, v: Math.floor(r() * 1000) }));
    } else if (roll < 0.65) {
      if (await n.db.contains('sim', key)) written.push(await n.db.delete('sim', key));
    } else if (roll < 0.7) {
      const cut = nodes.filter(() => r() < 0.5).map((x) => x.address);
      const rest = nodes.map((x) => x.address).filter((a) => !cut.includes(a));
      world.partition(cut, rest);
    } else if (roll < 0.75) {
      world.heal();
    } else if (roll < 0.78) {
      world.resetRandomLink();
    } else if (roll < 0.8 && n.up) {
      // A crash: its links drop without a word; the data (acknowledged writes) stays.
      n.cluster.kill();
      n.up = false;
      world.schedule(200 + Math.floor(r() * 2_000), () => {
        n.cluster = startCluster(n, [nodes.find((x) => x !== n)!.address]);
        n.up = true;
      });
    }
    await world.run(Math.floor(r() * 150));
  }
  // Faults stop; the network heals; give the cluster time to notice and repair.
  world.heal();
  world.faults = { minDelayMs: 1, maxDelayMs: 5, drop: 0, duplicate: 0, corrupt: 0 };
  await world.run(3_000);
  for (const n of nodes) if (!n.up) await world.run(2_500);
  await world.run(12_000);
  if (process.env.KORU_SIM_LOG) for (const n of nodes) console.log(world.now, n.address, n.up, JSON.stringify(n.cluster.peers().map((p) => [p.address, p.state])), n.db.storage.stats().versions);
  return { nodes, written, world };
}

async function check(seed: number, nodes: SimNode[], written: Version[]): Promise<void> {
  const where = `seed ${seed} (replay: KORU_SIM_SEED=${seed} KORU_SIM_SEEDS=1)`;
  const roots = nodes.map((n) => n.db.storage.stateRoot());
  expect(new Set(roots).size, `${where}: state roots ${roots.join(', ')}`).toBe(1);
  for (const key of KEYS) {
    const mine = written.filter((v) => v.key === key);
    if (mine.length === 0) continue;
    // Every version written anywhere is in every node's history.
    const all = new Set(mine.map((v) => v.versionId));
    const winner = mine.reduce((w, v) => (v.hlc > w.hlc || (v.hlc === w.hlc && v.node > w.node) ? v : w));
    for (const n of nodes) {
      const history = n.db.storage.history('sim', key);
      const ids = new Set(history.map((v) => v.versionId));
      for (const id of all) expect(ids.has(id), `${where}: ${n.address} lacks ${key} version ${id}`).toBe(true);
      expect(history.length, `${where}: ${n.address} holds versions of ${key} nobody wrote`).toBe(all.size);
      // The current version: the highest (hlc, node), the same on every node.
      expect(history.at(-1)!.versionId, `${where}: ${n.address} current ${key}`).toBe(winner.versionId);
      expect(n.db.storage.contains('sim', key)).toBe(!winner.deleted);
    }
  }
  for (const n of nodes) expect((await n.db.storage.verify()).ok, `${where}: ${n.address} verify`).toBe(true);
}

describe('deterministic cluster simulation', () => {
  const fixed = process.env.KORU_SIM_SEED;
  const first = fixed !== undefined ? Number(fixed) : Math.floor(Math.random() * 1_000_000_000);
  const seeds = Number(process.env.KORU_SIM_SEEDS ?? 200);

  it(`converges with no lost version over ${seeds} seeds from ${first}`, async () => {
    console.log(`[seed] cluster simulation: seeds ${first}..${first + seeds - 1} (replay one with KORU_SIM_SEED=<seed> KORU_SIM_SEEDS=1)`);
    const totals = { writes: 0, dropped: 0, duplicated: 0, corrupted: 0 };
    for (let s = first; s < first + seeds; s++) {
      const { nodes, written, world } = await scenario(s);
      await check(s, nodes, written);
      totals.writes += written.length;
      totals.dropped += world.stats.dropped;
      totals.duplicated += world.stats.duplicated;
      totals.corrupted += world.stats.corrupted;
      for (const n of nodes) {
        n.cluster.kill();
        await n.db.close();
      }
    }
    console.log(`[sim] ${seeds} seeds: ${totals.writes} writes; frames dropped ${totals.dropped}, duplicated ${totals.duplicated}, corrupted ${totals.corrupted}`);
    // The faults really happened (a simulation without them would prove little).
    expect(totals.dropped).toBeGreaterThan(0);
    expect(totals.corrupted).toBeGreaterThan(0);
  }, 600_000);
});
