// Each peer's state root as the last anti-entropy round saw it (PeerInfo.lastRoot), on a
// simulated network: the peer's root and a match once quiet; a mismatch while a write
// cannot reach it; a match again once it can.
import { ClusterNode } from '@koru/cluster';
import { KoruDelta } from '@koru/delta';
import { MemoryAdapter } from '@koru/storage';
import { afterEach, describe, expect, it } from 'vitest';
import { World } from './sim.js';

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function member(world: World, i: number, join: string[] = []) {
  const address = `10.0.2.${i}:7000`;
  const db = await KoruDelta.start({ adapter: new MemoryAdapter(`roots-${i}`), now: () => world.now });
  const cluster = ClusterNode.start({ db, transport: world.transport(address), address, join, clock: world.clock(), random: world.random, antiEntropyIntervalMs: 1_000 });
  stops.push(() => cluster.kill(), () => db.close());
  return { address, db, cluster };
}

describe('a peer\'s last state root', () => {
  it('is null before any round, the peer\'s root with a match once quiet, and a mismatch while versions cannot reach it', async () => {
    const world = new World(21);
    // Filters frames: `drop` says which are lost.
    const deliver = world.deliver.bind(world);
    let drop: (fromA: boolean, frame: string) => boolean = (_, frame) => frame.startsWith('{"t":"ae-roots');
    world.deliver = (conn, toB, frame) => {
      if (!drop((toB ? conn.a : conn.b) === a.address, frame)) deliver(conn, toB, frame);
    };
    const a = await member(world, 1);
    await a.db.put('n', 'first', 1);
    const b = await member(world, 2, [a.address]);
    // Members, but no round has compared roots yet.
    await world.run(3_000);
    expect(a.cluster.peers().map((p) => [p.state, p.lastRoot])).toEqual([['healthy', null]]);
    drop = () => false;
    await world.run(5_000);
    const quiet = a.cluster.peers()[0]!.lastRoot!;
    expect(quiet).toEqual({ root: b.db.storage.stateRoot(), at: expect.any(String), matched: true });
    expect(b.db.storage.stateRoot()).toBe(a.db.storage.stateRoot());
    expect(Date.parse(quiet.at)).toBeLessThanOrEqual(world.now);
    expect(b.cluster.peers()[0]!.lastRoot).toMatchObject({ root: a.db.storage.stateRoot(), matched: true });

    // A's pushes and the rounds' exchanges to B are lost: B misses A's write, and the
    // next rounds see two different roots.
    drop = (fromA, frame) => fromA && (frame.startsWith('{"t":"push"') || frame.startsWith('{"t":"ae-keys'));
    await a.db.put('n', 'second', 2);
    await world.run(3_000);
    expect(a.cluster.peers()[0]!.lastRoot).toMatchObject({ root: b.db.storage.stateRoot(), matched: false });
    expect(b.db.storage.stateRoot()).not.toBe(a.db.storage.stateRoot());

    // A round cut off waits for its request to time out before the next one compares.
    drop = () => false;
    await world.run(30_000);
    expect(await b.db.get('n', 'second')).toBe(2);
    expect(a.cluster.peers()[0]!.lastRoot).toMatchObject({ root: a.db.storage.stateRoot(), matched: true });
  });
});
