// The server-level WebSocket calls against real servers: serverStatus and clusterPeers
// answer exactly what GET /v1/status and GET /v1/cluster/peers answer (one server, and a
// two-member cluster), serverMetrics' figures follow what the server does, arguments are
// refused, and the token guards them as every call.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { KoruServer, ServerMetrics, ServerOptions } from '../src/index.js';
import { Session, startTestServer } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = (options: ServerOptions = {}): Promise<KoruServer> => startTestServer(cleanups, 'koru-calls-', options);

async function open(s: KoruServer, hello?: Record<string, unknown>): Promise<Session> {
  const { session } = await Session.open(s.url, hello);
  cleanups.push(() => session.close());
  return session;
}

async function rest(s: KoruServer, path: string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(`${s.url}${path}`, { headers });
  expect(res.status, path).toBe(200);
  return res.json();
}

/**
 * The WebSocket call's answer and the route's, taken back to back until they agree:
 * figures that move on their own (uptime's second, a peer's lastSeen) can change between
 * the two; answers that differ in what they say never agree.
 */
async function bothWays(s: KoruServer, c: Session, method: string, path: string): Promise<{ ws: unknown; http: unknown }> {
  let ws: unknown;
  let http: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    ws = await c.call(method);
    http = await rest(s, path);
    if (JSON.stringify(ws) === JSON.stringify(http)) break;
  }
  expect(ws).toEqual(http);
  return { ws, http };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('serverStatus and clusterPeers', () => {
  it('answer exactly what GET /v1/status and GET /v1/cluster/peers answer', async () => {
    const s = await server();
    const c = await open(s);
    await c.call('put', 'users', 'alice', { n: 1 });
    const { ws: status } = await bothWays(s, c, 'serverStatus', '/v1/status');
    expect(status).toMatchObject({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      node: s.db.nodeId,
      uptimeSeconds: expect.any(Number),
      keys: 1,
      versions: 1,
      seq: 1,
      adapter: 'file',
      stateRoot: s.db.stateRoot(),
      cluster: { address: s.cluster!.address, members: 1 },
    });
    const { ws: peers } = await bothWays(s, c, 'clusterPeers', '/v1/cluster/peers');
    expect(peers).toEqual({ node: s.db.nodeId, address: s.cluster!.address, peers: [] });
  });

  it('say there is no cluster with cluster: false', async () => {
    const s = await server({ cluster: false });
    const c = await open(s);
    expect((await bothWays(s, c, 'serverStatus', '/v1/status')).ws).toMatchObject({ cluster: null });
    expect((await bothWays(s, c, 'clusterPeers', '/v1/cluster/peers')).ws).toEqual({ node: s.db.nodeId, address: null, peers: [] });
  });

  it('list the other member of a two-member cluster, as the route does', async () => {
    const a = await server();
    const b = await server({ cluster: { join: [a.cluster!.address] } });
    await waitFor(() => a.cluster!.peers().some((p) => p.state === 'healthy') && b.cluster!.peers().some((p) => p.state === 'healthy'), 'the members to see each other');
    const c = await open(a);
    const { ws } = await bothWays(a, c, 'clusterPeers', '/v1/cluster/peers');
    expect(ws).toEqual({
      node: a.db.nodeId,
      address: a.cluster!.address,
      peers: [{ id: b.db.nodeId, address: b.cluster!.address, state: 'healthy', lastSeen: expect.any(String), replicationLagMs: expect.any(Number), unconfirmed: expect.any(Number), lastRoot: expect.toBeOneOf([null, { root: expect.any(String), at: expect.any(String), matched: expect.any(Boolean) }]) }],
    });
    expect((await bothWays(a, c, 'serverStatus', '/v1/status')).ws).toMatchObject({ cluster: { address: a.cluster!.address, members: 2 } });
  });

  it('refuse arguments, like unknown options elsewhere', async () => {
    const s = await server();
    const c = await open(s);
    for (const method of ['serverStatus', 'clusterPeers', 'serverMetrics']) {
      await expect(c.call(method, {})).rejects.toEqual({ code: 'INVALID_ARGUMENT', message: `${method} takes no arguments, not 1` });
    }
  });

  it('need the token, as every call does', async () => {
    const s = await server({ token: 'tok' });
    for (const hello of [{ type: 'hello', protocol: 1 }, { type: 'hello', protocol: 1, token: 'wrong' }]) {
      const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/v1/ws`);
      await new Promise((r) => ws.once('open', r));
      const messages: unknown[] = [];
      ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      ws.send(JSON.stringify(hello));
      ws.send(JSON.stringify({ id: 1, method: 'serverStatus', params: [] }));
      expect(await closed).toBe(4001);
      expect(messages).toEqual([{ type: 'error', error: { code: 'UNAUTHORIZED', message: 'missing or wrong token' } }]);
    }
    const c = await open(s, { type: 'hello', protocol: 1, token: 'tok' });
    expect(await c.call('serverStatus')).toMatchObject({ node: s.db.nodeId });
    expect(await c.call('clusterPeers')).toMatchObject({ node: s.db.nodeId });
  });
});

describe('serverMetrics', () => {
  it("sums the server's metrics: calls, writes, sockets, subscriptions, requests, errors", async () => {
    const s = await server();
    const c = await open(s);
    const metrics = async (): Promise<ServerMetrics> => (await c.call('serverMetrics')) as ServerMetrics;
    const first = await metrics();
    expect(first).toMatchObject({
      uptimeSeconds: expect.any(Number),
      http: { requests: 0, clientErrors: 0, serverErrors: 0 },
      ws: { calls: 0, failedCalls: 0, connections: 1, subscriptions: 0 }, // a call is counted once answered
      writes: 0,
      connections: { open: 1, pending: 0, evicted: 0 },
    });

    await c.call('put', 'users', 'alice', 1);
    await c.call('delete', 'users', 'alice');
    await expect(c.call('get', 'users', 'alice')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    await c.call('subscribe', { namespace: 'users' });
    await open(s);
    const second = await metrics();
    // serverMetrics, put, delete, get (failed), subscribe.
    expect(second.ws).toEqual({ calls: 5, failedCalls: 1, connections: 2, subscriptions: 1 });
    expect(second.writes).toBe(2);
    expect(second.connections).toMatchObject({ open: 2 });

    expect((await fetch(`${s.url}/v1/kv/users/alice`, { method: 'PUT', body: '2', headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect((await fetch(`${s.url}/v1/nowhere`)).status).toBe(404);
    // A request is counted when its response has gone, which the client may see first.
    await expect.poll(async () => (await metrics()).http, { timeout: 5_000 }).toEqual({ requests: 2, clientErrors: 1, serverErrors: 0 });
    expect((await metrics()).writes).toBe(3);
  });

  it("reports the process's memory, CPU and event-loop delay, and leaves /metrics' event-loop window alone", async () => {
    const s = await server();
    const c = await open(s);
    // Let the event-loop samplers (every 20 and 100 ms) take a few samples since the last read.
    await c.call('serverMetrics');
    await new Promise((r) => setTimeout(r, 350));
    const { process: proc } = (await c.call('serverMetrics')) as ServerMetrics;
    expect(proc.residentMemoryBytes).toBeGreaterThan(0);
    expect(proc.heapUsedBytes).toBeGreaterThan(0);
    expect(proc.heapTotalBytes).toBeGreaterThanOrEqual(proc.heapUsedBytes);
    expect(proc.cpuSeconds).toBeGreaterThan(0);
    const delay = proc.eventLoopDelayMs!;
    expect(delay).not.toBeNull();
    for (const v of Object.values(delay)) expect(v).toBeGreaterThanOrEqual(0);
    expect(delay.p50).toBeLessThanOrEqual(delay.p99);
    expect(delay.p99).toBeLessThanOrEqual(delay.max);
    // The same figures as the Prometheus text; the summary did not reset its event-loop
    // figures (a console reading it every 2 s would leave a scrape only the last 2 s).
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(Number(/^nodejs_eventloop_lag_mean_seconds (\S+)$/m.exec(text)![1])).toBeGreaterThan(0);
    const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)![1]);
    expect(Math.abs(rss - proc.residentMemoryBytes) / rss).toBeLessThan(0.5);
    expect(text).toMatch(/^koru_ws_calls_total\{method="serverMetrics",outcome="ok"\} 2$/m);
  });
});
