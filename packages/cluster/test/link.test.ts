// Links between nodes on the simulated network: the cluster key keeps outsiders out, and
// a bad message closes only the link it came on, storing nothing.
import { ClusterNode } from '@koru/cluster';
import { KoruDelta } from '@koru/delta';
import { MemoryAdapter } from '@koru/storage';
import { afterEach, describe, expect, it } from 'vitest';
import { Link, type LinkOwner } from '../src/link.js';
import type { ClusterMessage } from '../src/messages.js';
import { World } from './sim.js';

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function member(world: World, i: number, o: { key?: string; join?: string[] } = {}) {
  const address = `10.0.0.${i}:7000`;
  const db = await KoruDelta.start({ adapter: new MemoryAdapter(`node-${i}`), now: () => world.now });
  const logs: string[] = [];
  const cluster = ClusterNode.start({
    db,
    transport: world.transport(address),
    address,
    join: o.join ?? [],
    clock: world.clock(),
    random: world.random,
    ...(o.key !== undefined ? { clusterKey: o.key } : {}),
    log: (level, message, fields) => logs.push(`${level} ${message} ${JSON.stringify(fields)}`),
  });
  stops.push(() => cluster.kill(), () => db.close());
  return { address, db, cluster, logs };
}

/** A raw client link from `from` to `to` holding `key`: it speaks the protocol itself. */
function rawLink(world: World, from: string, to: string, key: string | undefined): { link: Link; received: ClusterMessage[]; closed: string[] } {
  const received: ClusterMessage[] = [];
  const closed: string[] = [];
  const owner: LinkOwner = {
    clock: world.clock(),
    clusterKey: key,
    self: { node: 'intruder', address: from, inc: 1 },
    nonce: () => 'ab'.repeat(32),
    members: () => [],
    admit: () => undefined,
    ready: () => {},
    message: (_l, m) => received.push(m),
    closed: (_l, r) => closed.push(r),
    log: () => {},
  };
  const link = Link.dial(owner, (h) => world.transport(from).dial(to, h));
  return { link, received, closed };
}

describe('cluster links', () => {
  it('refuses a peer without the cluster key, or with another one: it learns nothing and changes nothing', async () => {
    const world = new World(1);
    const a = await member(world, 1, { key: 'k1' });
    const b = await member(world, 2, { key: 'k1', join: [a.address] });
    const wrong = await member(world, 3, { key: 'k2', join: [a.address] });
    const none = await member(world, 4, { join: [a.address] });
    await world.run(3_000);
    await wrong.db.put('x', 'k', 'from the wrong key');
    await none.db.put('x', 'k', 'from no key');
    await a.db.put('x', 'j', 'inside');
    await world.run(5_000);
    expect(a.cluster.peers().map((p) => p.id)).toEqual(['node-2']);
    expect(b.cluster.peers().map((p) => p.id)).toEqual(['node-1']);
    expect(wrong.cluster.peers()).toEqual([]);
    expect(none.cluster.peers()).toEqual([]);
    expect(a.db.storage.listKeys('x')).toEqual(['j']);
    expect(b.db.storage.listKeys('x')).toEqual(['j']);
    expect(none.db.storage.listKeys('x')).toEqual(['k']);
    expect(a.logs.filter((l) => l.includes('cluster peer refused') && l.includes('UNAUTHORIZED')).length).toBeGreaterThanOrEqual(2);
  });

  it('closes only the link a malformed message came on, and stores nothing of it', async () => {
    const world = new World(2);
    const a = await member(world, 1, { key: 'k' });
    const b = await member(world, 2, { key: 'k', join: [a.address] });
    await world.run(2_000);
    const intruder = rawLink(world, '10.0.0.9:7000', a.address, 'k');
    await world.run(100);
    expect(intruder.link.ready).toBe(true);
    // Well formed and authenticated, but not a valid message: the link closes.
    intruder.link.send({ t: 'push', id: 1, versions: [{ namespace: 'x', key: 'k', versionId: 'nope' }] } as never);
    await world.run(100);
    expect(intruder.closed).toHaveLength(1);
    expect(a.logs.some((l) => l.includes('cluster link closed') && l.includes('malformed message'))).toBe(true);
    // A valid shape whose content does not hash: refused with an error answer, nothing stored.
    const again = rawLink(world, '10.0.0.9:7000', a.address, 'k');
    await world.run(100);
    const forged = { namespace: 'x', key: 'k', value: 1, versionId: 'a'.repeat(64), previousVersion: null, hlc: '001767225600000-000000', node: 'intruder', deleted: false };
    const answer = again.link.request({ t: 'push', id: again.link.nextId(), versions: [forged] }, 1_000).then(() => 'answered', (e: Error) => e.message);
    await world.run(200); // the answer comes in virtual time
    expect(await answer).toMatch(/INVALID_ARGUMENT.*does not match its content/);
    expect(again.link.ready).toBe(true);
    expect(a.db.storage.listNamespaces()).toEqual([]);
    // The members' own links are untouched: replication goes on.
    await a.db.put('x', 'ok', 1);
    await world.run(500);
    expect(b.db.storage.get('x', 'ok')).toBe(1);
    expect(a.cluster.peers().find((p) => p.id === 'node-2')?.state).toBe('healthy');
  });

  it('refuses records of the reserved namespace and far-future clocks from an authenticated peer; nothing stored', async () => {
    const world = new World(3);
    const a = await member(world, 1, { key: 'k' });
    await world.run(100);
    // Versions with valid ids, as a peer's own database would hold them.
    const elsewhere = await KoruDelta.start({ adapter: new MemoryAdapter('elsewhere'), now: () => world.now });
    await elsewhere.storage.putSystem('view:bad', { name: 'bad', namespace: 'x', query: { filter: { y: { $bogus: 1 } } }, autoRefresh: true });
    const future = await KoruDelta.start({ adapter: new MemoryAdapter('future'), now: () => Date.UTC(9999, 11, 31) });
    await future.put('x', 'k', 1);
    const wire = (v: object): object => JSON.parse(JSON.stringify(v)) as object;
    const system = [...elsewhere.storage.committed()].map(wire);
    const far = [...future.storage.committed()].map(wire);
    const intruder = rawLink(world, '10.0.0.9:7000', a.address, 'k');
    await world.run(100);
    const push = (versions: object[]): Promise<string> =>
      intruder.link.request({ t: 'push', id: intruder.link.nextId(), versions } as never, 1_000).then(() => 'answered', (e: Error) => e.message);
    const refusedSystem = push(system);
    await world.run(200);
    expect(await refusedSystem).toMatch(/INVALID_NAMESPACE.*_koru/);
    const refusedFar = push(far);
    await world.run(200);
    expect(await refusedFar).toMatch(/CLOCK_SKEW/);
    expect(a.db.storage.systemEntries()).toEqual([]);
    expect(a.db.storage.listNamespaces()).toEqual([]);
    await elsewhere.close();
    await future.close();
  });
});
