// KoruClient's serverStatus, clusterPeers and serverMetrics against real server
// processes: the same answers as GET /v1/status and GET /v1/cluster/peers, behind the
// token; a two-member cluster's peer; metrics that follow what the server does.
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { KoruClient, type ClusterPeers, type PeerInfo, type ServerMetrics, type ServerStatus } from '@koru/client';
import type { ClusterPeers as ServerClusterPeers, PeerInfo as ServerPeerInfo, ServerMetrics as ServerServerMetrics, ServerStatus as ServerServerStatus } from '@koru/server';
import { rejectsWith, startServer, stopAllServers, type ServerProcess } from './support.js';

/** A peer's lastRoot right after joining: none yet, or what a first round saw. */
const ROOT_SEEN = expect.toBeOneOf([null, { root: expect.any(String), at: expect.any(String), matched: expect.any(Boolean) }]);

// The client writes the server's types out (it depends on no server package); they must
// stay the same types (checked by this package's typecheck).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameTypes: [Same<ServerStatus, ServerServerStatus>, Same<ClusterPeers, ServerClusterPeers>, Same<PeerInfo, ServerPeerInfo>, Same<ServerMetrics, ServerServerMetrics>] = [true, true, true, true];

const clients: KoruClient[] = [];
async function connect(url: string, token?: string): Promise<KoruClient> {
  const c = await KoruClient.connect(url, token !== undefined ? { token } : {});
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(stopAllServers);

async function rest(server: ServerProcess, path: string, token?: string): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(res.status, path).toBe(200);
  return res.json();
}

/**
 * The client's answer and the route's, taken back to back until they agree: figures that
 * move on their own (uptime's second, a peer's lastSeen) can change between the two;
 * answers that differ in what they say never agree.
 */
async function sameAsRoute<T>(ask: () => Promise<T>, server: ServerProcess, path: string, token?: string): Promise<T> {
  let mine: T | undefined;
  let route: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    mine = await ask();
    route = await rest(server, path, token);
    if (JSON.stringify(mine) === JSON.stringify(route)) break;
  }
  expect(mine).toEqual(route);
  return mine!;
}

describe('serverStatus and clusterPeers', () => {
  test('answer what GET /v1/status and GET /v1/cluster/peers answer, with the token', async () => {
    expect(sameTypes).toEqual([true, true, true, true]);
    const server = await startServer({ token: 'tok' });
    const c = await connect(server.url, 'tok');
    await c.put('users', 'alice', { n: 1 });
    await c.put('users', 'bob', { n: 2 });
    expect(c.seq).toBe(0);
    const status = await sameAsRoute(() => c.serverStatus(), server, '/v1/status', 'tok');
    expect(status).toMatchObject({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      node: c.nodeId,
      keys: 2,
      versions: 2,
      namespaces: 1,
      seq: 2,
      adapter: 'file',
      stateRoot: await c.stateRoot(),
      cluster: { address: `127.0.0.1:${server.port}`, members: 1 },
    });
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(c.seq).toBe(2); // noted from the status, as from stats()
    expect(await sameAsRoute(() => c.clusterPeers(), server, '/v1/cluster/peers', 'tok')).toEqual({ node: c.nodeId, address: `127.0.0.1:${server.port}`, peers: [] });
    // Like every call, nothing without the right token.
    await rejectsWith(KoruClient.connect(server.url, { token: 'wrong', reconnect: false }), 'UNAUTHORIZED');
  });

  test("list a two-member cluster's other member, from either side", async () => {
    const a = await startServer();
    const b = await startServer({ join: [`127.0.0.1:${a.port}`] });
    const [ca, cb] = await Promise.all([connect(a.url), connect(b.url)]);
    const healthy = async (c: KoruClient): Promise<readonly PeerInfo[]> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { peers } = await c.clusterPeers();
        if (peers.some((p) => p.state === 'healthy')) return peers;
        if (Date.now() > deadline) throw new Error(`no healthy peer: ${JSON.stringify(peers)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const [fromA, fromB] = await Promise.all([healthy(ca), healthy(cb)]);
    expect(fromA).toEqual([{ id: cb.nodeId, address: `127.0.0.1:${b.port}`, state: 'healthy', lastSeen: expect.any(String), replicationLagMs: expect.any(Number), unconfirmed: expect.any(Number), lastRoot: ROOT_SEEN }]);
    expect(fromB).toEqual([{ id: ca.nodeId, address: `127.0.0.1:${a.port}`, state: 'healthy', lastSeen: expect.any(String), replicationLagMs: expect.any(Number), unconfirmed: expect.any(Number), lastRoot: ROOT_SEEN }]);
    expect(Number.isNaN(Date.parse(fromA[0]!.lastSeen!))).toBe(false);
    // Once a round compared them, each side holds the other's root, the same as its own.
    await expect.poll(async () => (await ca.clusterPeers()).peers[0]!.lastRoot, { timeout: 15_000 }).toEqual({ root: await cb.stateRoot(), at: expect.any(String), matched: true });
    const peers = await sameAsRoute(() => ca.clusterPeers(), a, '/v1/cluster/peers');
    expect(peers).toMatchObject({ node: ca.nodeId, address: `127.0.0.1:${a.port}`, peers: [{ id: cb.nodeId }] });
    expect(await sameAsRoute(() => cb.serverStatus(), b, '/v1/status')).toMatchObject({ node: cb.nodeId, cluster: { address: `127.0.0.1:${b.port}`, members: 2 } });
    // A write on one reaches the other; once both hold it, their state roots agree.
    await ca.put('users', 'alice', 1);
    const deadline = Date.now() + 20_000;
    while ((await cb.serverStatus()).versions < 1) {
      if (Date.now() > deadline) throw new Error('the write never reached the other member');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await cb.serverStatus()).stateRoot).toBe((await ca.serverStatus()).stateRoot);
  });
});

describe('serverMetrics', () => {
  test('figures that follow what the server does', async () => {
    const server = await startServer();
    const c = await connect(server.url);
    const before = await c.serverMetrics();
    expect(before).toMatchObject({ writes: 0, ws: { calls: 0, failedCalls: 0, connections: 1, subscriptions: 0 }, connections: { open: 1, pending: 0, evicted: 0 } });
    expect(before.uptimeSeconds).toBeGreaterThanOrEqual(0);
    await c.put('users', 'alice', 1);
    await c.put('users', 'alice', 2);
    await rejectsWith(c.get('users', 'nobody'), 'KEY_NOT_FOUND');
    const sub = c.subscribe({ namespace: 'users' }, () => {});
    await c.currentSeq(); // answered after the subscribe, sent first
    const other = await connect(server.url);
    const after = await c.serverMetrics();
    // serverMetrics, put, put, get (failed), subscribe, seq.
    expect(after.ws).toEqual({ calls: 6, failedCalls: 1, connections: 2, subscriptions: 1 });
    expect(after.writes).toBe(2);
    expect(after.connections.open).toBe(2);
    expect(after.process.residentMemoryBytes).toBeGreaterThan(0);
    expect(after.process.heapUsedBytes).toBeGreaterThan(0);
    expect(after.process.heapTotalBytes).toBeGreaterThanOrEqual(after.process.heapUsedBytes);
    expect(after.process.cpuSeconds).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300)); // a few event-loop samples
    const delay = (await other.serverMetrics()).process.eventLoopDelayMs;
    expect(delay).toEqual({ mean: expect.any(Number), p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) });
    expect(delay!.p99).toBeLessThanOrEqual(delay!.max);
    sub.unsubscribe();
    await expect.poll(async () => (await c.serverMetrics()).ws.subscriptions, { timeout: 5_000 }).toBe(0);
  });
});
