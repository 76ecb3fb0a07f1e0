// Hostile connections against a real server on a real port (in-process, fresh data
// directory): silent WebSockets, floods of unauthenticated sockets, slow headers, stalled
// and oversized bodies, bodies that would stall the event loop, subscription floods and
// answers as large as the documented value limit.
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type KoruServer, type ServerOptions } from '../src/index.js';
import { Session } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(options: ServerOptions = {}): Promise<KoruServer> {
  const t = tempDir('koru-hostile-');
  const s = await startServer({ path: t.dir, port: 0, log: 'silent', ...options });
  cleanups.push(t.cleanup, () => s.close());
  return s;
}

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw TCP connection, destroyed after the test. */
function raw(s: KoruServer): Socket {
  const c = connect(s.port, '127.0.0.1');
  c.on('error', () => {});
  cleanups.push(() => void c.destroy());
  return c;
}

/** What a raw connection receives until it closes (or `ms` pass: 'still open'). */
function answerOf(c: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => resolve(`still open: ${got}`), ms);
    c.on('data', (d) => (got += d.toString()));
    c.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/** Opens `n` WebSockets that never say hello; resolves once each is open or refused. */
async function silentSockets(s: KoruServer, n: number): Promise<WebSocket[]> {
  const all = Array.from({ length: n }, () => new WebSocket(`${s.url.replace('http', 'ws')}/v1/ws`));
  cleanups.push(() => all.forEach((w) => w.terminate()));
  await Promise.all(all.map((w) => new Promise((resolve) => {
    w.once('open', resolve);
    w.once('error', resolve);
    w.once('close', resolve);
  })));
  return all;
}

describe('connection hygiene', () => {
  it('closes a WebSocket that sends no hello in time, with a reason', async () => {
    const s = await server({ helloTimeoutMs: 200 });
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/v1/ws`);
    cleanups.push(() => ws.terminate());
    const closed = await new Promise<{ code: number; reason: string; error?: unknown }>((resolve) => {
      let error: unknown;
      ws.on('message', (d) => (error = JSON.parse(d.toString())));
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), error }));
      setTimeout(() => resolve({ code: 0, reason: 'still open after 5 s' }), 5_000);
    });
    expect(closed).toMatchObject({ code: 4008, reason: 'no hello within 200 ms', error: { type: 'error', error: { code: 'PROTOCOL_ERROR' } } });
    // A socket that says hello in time is not touched by the deadline.
    const { session } = await Session.open(s.url);
    await sleep(400);
    expect(await session.call('put', 'n', 'k', 1)).toMatchObject({ key: 'k' });
    session.close();
  });

  it('serves an authenticated client while 300 sockets that never authenticate hold their connections', async () => {
    const s = await server({ token: 'tok', maxConnections: 64, maxPendingConnections: 16 });
    const flood = await silentSockets(s, 300);
    // At most the pending budget of them is still open: the oldest were closed for newcomers.
    expect(flood.filter((w) => w.readyState === WebSocket.OPEN).length).toBeLessThanOrEqual(16);
    const { session, welcome } = await Session.open(s.url, { type: 'hello', protocol: 1, token: 'tok' });
    expect(welcome).toMatchObject({ type: 'welcome' });
    await silentSockets(s, 100); // more flood after it authenticated: it keeps its slot
    expect(await session.call('put', 'users', 'alice', { n: 1 })).toMatchObject({ key: 'alice' });
    expect(await session.call('get', 'users', 'alice')).toEqual({ n: 1 });
    const r = await fetch(`${s.url}/v1/kv/users/alice`, { headers: { authorization: 'Bearer tok' } });
    expect(r.status).toBe(200);
    session.close();
  });

  it('without a token, a hello or a request is what earns a slot; one address is capped', async () => {
    const s = await server({ maxConnections: 32, maxPendingConnections: 8, maxConnectionsPerAddress: 20 });
    const { session } = await Session.open(s.url);
    await silentSockets(s, 100);
    expect(await session.call('put', 'n', 'k', 1)).toMatchObject({ key: 'k' });
    // Twenty welcomed sockets fill this address's share: the next one is told why.
    const more = [];
    for (let i = 0; i < 19; i++) more.push((await Session.open(s.url)).session);
    const refused = await Session.open(s.url).then(() => 'welcomed', (e: unknown) => String(e));
    expect(refused).toMatch(/503/);
    for (const m of more) m.close();
    session.close();
  });

  it('slow headers on 200 connections do not starve normal requests', async () => {
    const s = await server({ maxConnections: 100, maxPendingConnections: 50, headersTimeoutMs: 20_000 });
    const slow = Array.from({ length: 200 }, () => {
      const c = raw(s);
      c.write('GET /v1/ns HTTP/1.1\r\nHost: x\r\n');
      return c;
    });
    // One header byte every 200 ms on each, for as long as the test runs.
    const drip = setInterval(() => slow.forEach((c) => c.writable && c.write('X')), 200);
    cleanups.push(() => clearInterval(drip));
    await sleep(300);
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${s.url}/healthz`, { headers: { connection: 'close' } })).status);
    expect(statuses).toEqual(Array(20).fill(200));
  });

  it('cuts off a stalled body with 408', async () => {
    const s = await server({ bodyTimeoutMs: 300, requestTimeoutMs: 60_000 });
    const c = raw(s);
    c.write('PUT /v1/kv/n/k HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":');
    const answer = await answerOf(c, 5_000);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
    expect(await s.db.contains('n', 'k')).toBe(false);
  });

  it('caps the bytes of unfinished bodies across connections, and gives them back', async () => {
    const s = await server({ maxPendingBodyBytes: 4 * MiB, maxBodyBytes: 2 * MiB });
    const head = (n: number) => `PUT /v1/kv/n/k HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${n}\r\n\r\n`;
    // Two uploads hold 1.5 MiB each (declared), unfinished.
    const holders = [raw(s), raw(s)];
    for (const h of holders) h.write(head(1.5 * MiB) + '"' + 'x'.repeat(MiB));
    await sleep(200);
    // A third that would pass the budget is refused at once, with a typed code.
    const third = raw(s);
    third.write(head(1.5 * MiB));
    const answer = await answerOf(third, 5_000);
    expect(answer).toMatch(/^HTTP\/1.1 503/);
    expect(answer).toContain('"code":"SERVER_BUSY"');
    // An upload that declares no length is counted as it arrives.
    const chunked = await fetch(`${s.url}/v1/kv/n/c`, { method: 'PUT', body: new Blob([JSON.stringify('y'.repeat(1.5 * MiB))]).stream(), duplex: 'half', headers: { 'content-type': 'application/json' } } as RequestInit);
    expect(chunked.status).toBe(503);
    // The holders give up: their bytes return to the budget, and a full upload passes.
    for (const h of holders) h.destroy();
    await sleep(200);
    const ok = await fetch(`${s.url}/v1/kv/n/k`, { method: 'PUT', body: JSON.stringify('z'.repeat(2 * MiB - 100)), headers: { 'content-type': 'application/json' } });
    expect(ok.status).toBe(200);
    expect(await s.db.get('n', 'k')).toHaveLength(2 * MiB - 100);
  });
});
