// Joining on the simulated network: a node alone keeps no timers (no periodic work until
// someone joins, and none again once everyone left); a joiner that cannot get in says
// why, once per reason, keeps retrying, and says when it got in.
import { ClusterNode, clusterKeyFromToken, type Clock } from '@koru/cluster';
import { KoruDelta } from '@koru/delta';
import { MemoryAdapter } from '@koru/storage';
import { afterEach, describe, expect, it } from 'vitest';
import { World } from './sim.js';

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

/** A clock over the world's that counts the timers set through it and not yet fired or cleared. */
function countingClock(world: World): Clock & { readonly pending: number } {
  const base = world.clock();
  const live = new Set<unknown>();
  return {
    now: base.now,
    setTimeout: (fn, ms) => {
      const h: unknown = base.setTimeout(() => {
        live.delete(h);
        fn();
      }, ms);
      live.add(h);
      return h;
    },
    clearTimeout: (h) => {
      live.delete(h);
      base.clearTimeout(h);
    },
    get pending() {
      return live.size;
    },
  };
}

async function member(world: World, i: number, o: { key?: string; join?: string[] } = {}) {
  const address = `10.0.0.${i}:7000`;
  const db = await KoruDelta.start({ adapter: new MemoryAdapter(`join-${i}`), now: () => world.now });
  const logs: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const clock = countingClock(world);
  const cluster = ClusterNode.start({
    db,
    transport: world.transport(address),
    address,
    join: o.join ?? [],
    clock,
    random: world.random,
    ...(o.key !== undefined ? { clusterKey: o.key } : {}),
    log: (level, message, fields) => logs.push({ level, message, fields: fields ?? {} }),
  });
  stops.push(() => cluster.kill(), () => db.close());
  return { address, db, cluster, logs, clock };
}

describe('joining', () => {
  it('a node nobody joined has no timers and does no periodic work; it starts when a member appears and stops when all left', async () => {
    const world = new World(7);
    const a = await member(world, 1);
    await world.run(10_000);
    expect(a.cluster.active).toBe(false);
    expect(a.clock.pending).toBe(0);
    await a.db.put('n', 'alone', 1); // a write with no one to push to schedules nothing
    await world.run(1_000);
    expect(a.clock.pending).toBe(0);

    const b = await member(world, 2, { join: [a.address] });
    await world.run(3_000);
    expect(a.cluster.active).toBe(true);
    expect(a.clock.pending).toBeGreaterThan(0);
    expect(a.cluster.peers().map((p) => [p.id, p.state])).toEqual([[b.db.nodeId, 'healthy']]);
    // What A wrote alone reached B (snapshot); a new write on either side reaches the other.
    expect(await b.db.get('n', 'alone')).toBe(1);
    await b.db.put('n', 'from-b', 2);
    await a.db.put('n', 'from-a', 3);
    await world.run(2_000);
    expect(await a.db.get('n', 'from-b')).toBe(2);
    expect(await b.db.get('n', 'from-a')).toBe(3);

    // Stopping waits for A's answer: the world runs meanwhile.
    const leaving = b.cluster.stop();
    await world.run(5_000);
    await leaving;
    expect(a.cluster.peers()[0]?.state).toBe('left');
    expect(a.cluster.active).toBe(false);
    expect(a.clock.pending).toBe(0);
  });

  it('a joiner whose seed is not there says so at once with the reason, keeps retrying, and says when it got in', async () => {
    const world = new World(11);
    const seedAddress = '10.0.0.1:7000';
    const b = await member(world, 2, { join: [seedAddress] });
    await world.run(1_000);
    const trouble = b.logs.filter((l) => l.message === 'cannot join the cluster yet');
    expect(trouble.length).toBeGreaterThan(1); // retried within the second
    expect(trouble[0]).toMatchObject({ level: 'warn', fields: { seed: seedAddress, code: 'UNREACHABLE' } });
    expect(String(trouble[0]!.fields.reason)).toMatch(/connection refused/);
    // Said once: the retries with the same reason are debug lines.
    expect(trouble.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(b.logs.some((l) => l.message === 'joined the cluster')).toBe(false);

    const a = await member(world, 1);
    await world.run(6_000);
    const joined = b.logs.find((l) => l.message === 'joined the cluster');
    expect(joined).toMatchObject({ level: 'info', fields: { seed: seedAddress, peer: a.db.nodeId } });
    expect(joined!.fields.failedAttempts).toBeGreaterThan(0);
    expect(a.cluster.peers().map((p) => p.state)).toEqual(['healthy']);
  });

  it('a joiner holding another key is told UNAUTHORIZED, keeps retrying, and the seed admits nothing', async () => {
    const world = new World(13);
    const a = await member(world, 1, { key: 'right' });
    const b = await member(world, 2, { key: 'wrong', join: [a.address] });
    await world.run(3_000);
    const trouble = b.logs.filter((l) => l.message === 'cannot join the cluster yet');
    expect(trouble[0]).toMatchObject({ level: 'warn', fields: { seed: a.address, code: 'UNAUTHORIZED' } });
    expect(String(trouble[0]!.fields.reason)).toMatch(/refused this node: wrong or missing cluster key/);
    expect(trouble.length).toBeGreaterThan(1);
    expect(a.cluster.peers()).toEqual([]);
    expect(a.cluster.active).toBe(false);
    // A key derived from a token never contains it, and differs per token.
    expect(clusterKeyFromToken('tok')).toMatch(/^[0-9a-f]{64}$/);
    expect(clusterKeyFromToken('tok')).not.toContain('tok');
    expect(clusterKeyFromToken('tok')).not.toBe(clusterKeyFromToken('tok2'));
  });
});
