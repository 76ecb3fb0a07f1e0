// Anti-entropy rounds while writes flow by push (cluster-node.ts, Replication.flowing):
// under a steady stream of writes that every member confirms, a node starts a periodic
// round every FLOWING_ROUND_PERIODS periods instead of every period — and the cluster
// still converges; a node whose pushes fail (a member it cannot reach) keeps a round
// every period; once the writes stop, rounds come every period again. Counted as the
// `ae-roots` requests (the first message of every round) on a simulated network.
import { ClusterNode } from '@koru/cluster';
import { KoruDelta } from '@koru/delta';
import { MemoryAdapter } from '@koru/storage';
import { afterEach, describe, expect, it } from 'vitest';
import { FLOWING_ROUND_PERIODS } from '../src/cluster-node.js';
import { World } from './sim.js';

const INTERVAL = 1_000;

interface Node {
  readonly address: string;
  readonly db: KoruDelta;
  cluster: ClusterNode;
  /** Starts its cluster node again (after a kill), joining `join`. */
  readonly restart: (join: string) => void;
}

const started: Node[] = [];
afterEach(async () => {
  for (const n of started.splice(0)) {
    n.cluster.kill();
    await n.db.close();
  }
});

/** Three members on a calm simulated network, and a count of the rounds each starts. */
async function cluster(seed: number): Promise<{ world: World; nodes: Node[]; rounds: Map<string, number> }> {
  const world = new World(seed);
  const rounds = new Map<string, number>();
  // Frames are the message's JSON and its MAC: a round starts with `ae-roots`, sent by the node that starts it.
  const deliver = world.deliver.bind(world);
  world.deliver = (conn, toB, frame) => {
    if (frame.startsWith('{"t":"ae-roots"')) {
      const from = toB ? conn.a : conn.b;
      rounds.set(from, (rounds.get(from) ?? 0) + 1);
    }
    deliver(conn, toB, frame);
  };
  let nonce = 0;
  const nodes: Node[] = [];
  for (let i = 0; i < 3; i++) {
    const address = `10.0.1.${i + 1}:7000`;
    const db = await KoruDelta.start({ adapter: new MemoryAdapter(`flow-${seed}-${i}`), now: () => world.now });
    const start = (join: string[]): ClusterNode =>
      ClusterNode.start({
        db,
        transport: world.transport(address),
        address,
        join,
        clock: world.clock(),
        random: world.random,
        nonce: () => (nonce++).toString(16).padStart(64, '0'),
        clusterKey: 'flow-key',
        antiEntropyIntervalMs: INTERVAL,
      });
    const node: Node = {
      address,
      db,
      cluster: start(i === 0 ? [] : [nodes[0]!.address]),
      restart: (join) => {
        node.cluster = start([join]);
      },
    };
    nodes.push(node);
    started.push(node);
    await world.run(300);
  }
  // Everyone knows everyone, and the join snapshots are done.
  await world.run(5_000);
  for (const n of nodes) expect(n.cluster.peers().map((p) => p.state)).toEqual(['healthy', 'healthy']);
  rounds.clear();
  return { world, nodes, rounds };
}

/** Puts on `node` every 10 ms for `ms` of virtual time. */
async function stream(world: World, node: Node, ms: number): Promise<void> {
  const end = world.now + ms;
  for (let i = 0; world.now < end; i++) {
    await node.db.put('flow', `k${i % 50}`, { i, at: world.now });
    await world.run(10);
  }
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

describe('anti-entropy while writes flow by push', () => {
  it(`starts a round every ${FLOWING_ROUND_PERIODS} periods per node while every push is confirmed, and the cluster converges`, async () => {
    const { world, nodes, rounds } = await cluster(11);
    const seconds = 20;
    await stream(world, nodes[0]!, seconds * 1_000);
    const periods = (seconds * 1_000) / INTERVAL;
    // Every period, each of the 3 would start one (minus the quiet skips): here about periods / 5 each.
    expect(sum(rounds)).toBeLessThanOrEqual(3 * (periods / FLOWING_ROUND_PERIODS + 1));
    for (const n of nodes) expect(rounds.get(n.address) ?? 0, n.address).toBeGreaterThanOrEqual(periods / FLOWING_ROUND_PERIODS - 1);
    await world.run(3 * INTERVAL);
    const roots = nodes.map((n) => n.db.storage.stateRoot());
    expect(new Set(roots).size).toBe(1);
    expect(nodes.map((n) => n.db.storage.stats().versions)).toEqual(nodes.map(() => nodes[0]!.db.storage.stats().versions));
  });

  it('keeps a round every period on a node whose pushes fail, and repairs the member once it is back', async () => {
    const { world, nodes, rounds } = await cluster(12);
    const [a, b, c] = nodes as [Node, Node, Node];
    // C's cluster node crashes: A's pushes to it fail, so A owes C.
    c.cluster.kill();
    const seconds = 10;
    await stream(world, a, seconds * 1_000);
    // A's rounds (with B, the one it reaches) every period, not every fifth.
    expect(rounds.get(a.address) ?? 0).toBeGreaterThanOrEqual(seconds - 2);
    c.restart(a.address);
    await world.run(10 * INTERVAL);
    expect(c.db.storage.stateRoot()).toBe(a.db.storage.stateRoot());
    expect(b.db.storage.stateRoot()).toBe(a.db.storage.stateRoot());
  });

  it('goes back to a round every period once the writes stop', async () => {
    const { world, nodes, rounds } = await cluster(13);
    await stream(world, nodes[0]!, 5_000);
    await world.run(2 * INTERVAL);
    rounds.clear();
    // Quiet and in sync: rounds every period (the store's own rule then skips two of three: a quiet round every third).
    await world.run(12 * INTERVAL);
    expect(sum(rounds)).toBeGreaterThanOrEqual(3 * (12 / 3) - 3);
  });
});
