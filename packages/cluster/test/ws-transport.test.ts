// The WebSocket transport on real sockets (127.0.0.1, random ports): two members over
// HTTP servers that hand /v1/cluster upgrades to it; other paths are left alone; a frame
// over the size limit closes that link.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClusterNode, WsTransport } from '@koru/cluster';
import { KoruDelta } from '@koru/delta';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function member(join: string[], maxFrameBytes?: number) {
  const transport = new WsTransport(maxFrameBytes !== undefined ? { maxFrameBytes } : {});
  const other: string[] = [];
  const server: Server = createServer((_req, res) => res.end('ok'));
  server.on('upgrade', (req, socket, head) => {
    if (!transport.upgrade(req, socket, head)) {
      other.push(req.url ?? '');
      socket.destroy();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const db = await KoruDelta.start();
  const cluster = ClusterNode.start({ db, transport, address, join, probeIntervalMs: 100, antiEntropyIntervalMs: 200 });
  stops.push(() => db.close(), () => new Promise((r) => server.close(r)), () => cluster.stop());
  return { address, db, cluster, other };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WsTransport', () => {
  it('links two members over real sockets: writes replicate both ways, quorum writes are confirmed', async () => {
    const a = await member([]);
    const b = await member([a.address]);
    await until('a and b to know each other', () => [a, b].every((m) => m.cluster.peers().some((p) => p.state === 'healthy')));
    const seen: Array<{ key: string; seq: number }> = [];
    const sub = b.db.subscribe({ namespace: 'n' }, (e) => void (e.type === 'change' && seen.push({ key: e.key, seq: e.seq })));
    stops.push(() => sub.unsubscribe());
    await a.db.put('n', 'from-a', 1);
    const v = await b.db.put('n', 'from-b', 2, { ack: 'all' });
    expect(v.node).toBe(b.db.nodeId);
    // Acknowledged by all: a holds it the moment the write resolves.
    expect(a.db.storage.getVersion('n', 'from-b').versionId).toBe(v.versionId);
    await until('a write to reach b', () => b.db.storage.contains('n', 'from-a'));
    // b's subscriber saw a's write as a change of its own, with b's seq.
    await until('the subscriber to see both writes', () => seen.length === 2);
    expect(seen.map((e) => e.key).sort()).toEqual(['from-a', 'from-b']);
    expect(seen.map((e) => e.seq).sort()).toEqual([1, 2]);
    expect(a.cluster.stateRoot()).toBe(b.cluster.stateRoot());
    // The HTTP server keeps every other upgrade path for itself.
    const ws = new WebSocket(`ws://${a.address}/v1/ws`);
    await new Promise((r) => ws.once('close', r).once('error', r));
    expect(a.other).toEqual(['/v1/ws']);
  });

  it('closes a link that sends a frame over the size limit, and only that link', async () => {
    const a = await member([], 64 * 1024);
    const b = await member([a.address], 64 * 1024);
    await until('b to be a member of a', () => a.cluster.peers().some((p) => p.state === 'healthy'));
    const ws = new WebSocket(`ws://${a.address}/v1/cluster`);
    const first = await new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
    expect(JSON.parse(first)).toMatchObject({ t: 'challenge', node: a.db.nodeId });
    ws.send('x'.repeat(100_000));
    const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
    expect(code).toBe(1009); // "message too big"
    // The members' own links carry on.
    await a.db.put('n', 'after', 1);
    await until('the write after it to reach b', () => b.db.storage.contains('n', 'after'));
  });
});
