// Hostile connections against a real server on a real port (in-process, fresh data
// directory): silent WebSockets, floods of unauthenticated sockets, slow headers, stalled
// and oversized bodies, bodies that would stall the event loop, subscription floods and
// answers as large as the documented value limit.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { KoruServer, ServerOptions } from '../src/index.js';
import { Session, startTestServer } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = (options: ServerOptions = {}): Promise<KoruServer> => startTestServer(cleanups, 'koru-hostile-', options);

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
    const metrics = await (await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer tok' } })).text();
    expect(Number(/^koru_connections_evicted (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(300 + 100 - 16);
    expect(Number(/^koru_connections_pending (\d+)/m.exec(metrics)?.[1])).toBeLessThanOrEqual(16);
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

  it('closes a connection that never authenticates after the headers deadline, even one busy with refused requests', async () => {
    const s = await server({ token: 'tok', headersTimeoutMs: 300 });
    const refused = raw(s);
    const answer = answerOf(refused, 5_000);
    // A request without the token every 100 ms: each is answered 401 on a keep-alive connection.
    const ask = setInterval(() => refused.writable && refused.write('GET /v1/ns HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 100);
    cleanups.push(() => clearInterval(ask));
    // One that authenticated keeps its keep-alive connection past that deadline.
    const served = raw(s);
    served.write('GET /v1/ns HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok\r\n\r\n');
    await new Promise((r) => served.once('data', r));
    expect(await answer).toMatch(/^HTTP\/1.1 401/);
    expect(await answer).not.toMatch(/still open/);
    expect(served.destroyed).toBe(false);
    served.write('GET /v1/ns HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok\r\n\r\n');
    expect(String(await new Promise((r) => served.once('data', r)))).toMatch(/^HTTP\/1.1 200/);
  });

  it('closes promptly while connections that never sent a byte are open', async () => {
    const s = await server();
    raw(s);
    await sleep(100);
    // Node stops timing out headers once closing starts: such a connection held close() for ever.
    expect(await Promise.race([s.close().then(() => 'closed'), sleep(5_000).then(() => 'still closing')])).toBe('closed');
  });

  it('slow headers on 200 connections do not starve normal requests', async () => {
    const s = await server({ maxConnections: 100, maxPendingConnections: 50, headersTimeoutMs: 20_000 });
    const slow = Array.from({ length: 200 }, () => {
      const c = raw(s);
      c.write('GET /v1/ns HTTP/1.1\r\nHost: 127.0.0.1\r\n');
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
    c.write('PUT /v1/kv/n/k HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":');
    const answer = await answerOf(c, 5_000);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
    expect(await s.db.contains('n', 'k')).toBe(false);
  });

  it('caps the bytes of unfinished bodies across connections, and gives them back', async () => {
    const s = await server({ maxPendingBodyBytes: 4 * MiB, maxBodyBytes: 2 * MiB });
    const head = (n: number) => `PUT /v1/kv/n/k HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${n}\r\n\r\n`;
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

/** A call that fails when the socket closes first (instead of waiting for ever). */
function callOrClose(session: Session, method: string, ...params: unknown[]): Promise<unknown> {
  return Promise.race([
    session.call(method, ...params),
    new Promise((_, reject) => session.ws.once('close', (code) => reject(new Error(`connection lost (${code})`)))),
  ]);
}

describe('bounded work per request', () => {
  it('counts WebSocket messages still arriving against the same budget', async () => {
    const s = await server({ maxPendingBodyBytes: 4 * MiB });
    /** A socket past the handshake that sends most of a 3 MiB frame and then stalls. */
    const holder = async (): Promise<{ socket: Socket; answer: Promise<string> }> => {
      const c = raw(s);
      c.write(`GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16).toString('base64')}\r\n\r\n`);
      await new Promise((r) => c.once('data', r)); // 101 Switching Protocols
      const header = Buffer.alloc(14);
      header[0] = 0x81; // a final text frame
      header[1] = 0x80 | 127; // masked, 64-bit length
      header.writeBigUInt64BE(BigInt(3 * MiB), 2); // mask key 0: the payload goes as is
      c.write(Buffer.concat([header, Buffer.alloc(2 * MiB, 0x20)]));
      return { socket: c, answer: answerOf(c, 5_000) };
    };
    const first = await holder();
    await sleep(200);
    const second = await holder();
    // The second one's bytes pass the budget: it is told why and closed; the first keeps going.
    const told = await second.answer;
    expect(told).toContain('SERVER_BUSY');
    expect(first.socket.destroyed).toBe(false);
    // Once the holder goes, its bytes return: a client with a large message is served.
    first.socket.destroy();
    await sleep(200);
    const { session } = await Session.open(s.url);
    expect(await session.call('put', 'n', 'big', 'x'.repeat(3 * MiB))).toMatchObject({ key: 'big' });
    session.close();
  });

  it('a body that would stall the event loop is checked off it; small requests go on meanwhile', async () => {
    const s = await server();
    // 15 MiB of 1e20: 3 million numbers, 66 MB once canonical.
    const body = `[${Array(3_100_000).fill('1e20').join(',')}]`;
    // The longest the event loop stood still while the request was served (this process is the server).
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 2);
    const started = performance.now();
    const order: string[] = [];
    const big = fetch(`${s.url}/v1/kv/n/big`, { method: 'PUT', body, headers: { 'content-type': 'application/json' } }).then(async (r) => {
      order.push('big');
      return { status: r.status, body: (await r.json()) as any };
    });
    const small = (async () => {
      // Small requests keep being answered while the big one is processed.
      for (let i = 0; i < 1_000 && !order.includes('big'); i++) {
        await fetch(`${s.url}/healthz`).then((r) => r.text());
        if (i === 0) order.push('small');
      }
    })();
    const r = await big;
    const took = performance.now() - started;
    clearInterval(ticker);
    await small;
    // The loop never stood still for most of the request (before: for nearly all of it).
    expect({ longest, took, shorter: longest < took / 2 }).toMatchObject({ shorter: true });
    expect(order[0]).toBe('small');
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'LIMIT_EXCEEDED' } } });
    expect(await s.db.contains('n', 'big')).toBe(false);
    // A large body within the limits is stored as sent.
    const fine = Array.from({ length: 200_000 }, (_, i) => ({ i }));
    expect((await fetch(`${s.url}/v1/kv/n/fine`, { method: 'PUT', body: JSON.stringify(fine), headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect(await s.db.get('n', 'fine')).toEqual(fine);
    // Over the WebSocket, calls keep their order around a large message, and past the element limit the socket is told why.
    const { session } = await Session.open(s.url);
    const [put, got] = await Promise.all([session.call('put', 'n', 'ws', fine), session.call('get', 'n', 'ws')]);
    expect(put).toMatchObject({ key: 'ws' });
    expect(got).toEqual(fine);
    const closed = await callOrClose(session, 'put', 'n', 'ws2', Array(1_100_000).fill(0)).then(() => 'stored', (e: unknown) => String(e));
    expect(closed).toMatch(/1009/);
    expect(await s.db.contains('n', 'ws2')).toBe(false);
  });

  it('refuses subscriptions past the per-socket limit with LIMIT_EXCEEDED, and still delivers to the rest', async () => {
    const s = await server({ maxSubscriptionsPerSocket: 5 });
    const { session } = await Session.open(s.url);
    const sids: string[] = [];
    for (let i = 0; i < 5; i++) sids.push(((await session.call('subscribe', { namespace: `ns${i}` })) as { subscription: string }).subscription);
    await expect(session.call('subscribe', { namespace: 'more' })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await session.call('unsubscribe', sids[4]);
    await new Promise((r) => setTimeout(r, 50));
    await session.call('subscribe', { namespace: 'ns1', key: 'k' });
    // Another socket has its own allowance.
    const other = (await Session.open(s.url)).session;
    await other.call('subscribe', {});
    await s.db.put('ns1', 'k', 1);
    await s.db.put('ns2', 'x', 2);
    await s.db.put('zz', 'y', 3);
    await new Promise((r) => setTimeout(r, 100));
    const brief = (events: unknown[]) => events.map((e) => `${(e as { namespace: string }).namespace}/${(e as { key: string }).key}`);
    expect(brief(session.events)).toEqual(['ns1/k', 'ns1/k', 'ns2/x']);
    expect(brief(other.events)).toEqual(['ns1/k', 'ns2/x', 'zz/y']);
    session.close();
    other.close();
  });

  it('answers values and histories as large as the value limit, over the WebSocket and HTTP', async () => {
    const s = await server();
    const big = 'x'.repeat(15 * MiB);
    const { session } = await Session.open(s.url);
    expect(await callOrClose(session, 'put', 'big', 'v', big)).toMatchObject({ key: 'v' });
    expect(await callOrClose(session, 'get', 'big', 'v')).toBe(big);
    const http = await fetch(`${s.url}/v1/kv/big/v`);
    expect(http.status).toBe(200);
    expect(await http.json()).toBe(big);
    // Two 12 MiB versions: one 24 MiB answer.
    const a = 'a'.repeat(12 * MiB);
    const b = 'b'.repeat(12 * MiB);
    await s.db.put('big', 'h', a);
    await s.db.put('big', 'h', b);
    const history = (await callOrClose(session, 'history', 'big', 'h')) as Array<{ value: string }>;
    expect(history.map((v) => v.value.length)).toEqual([12 * MiB, 12 * MiB]);
    expect(history[1]!.value).toBe(b);
    // Three large answers asked for at once: a client that reads is not taken for one that does not.
    const three = await Promise.all([1, 2, 3].map(() => callOrClose(session, 'get', 'big', 'h')));
    expect(three.map((v) => (v as string).length)).toEqual([12 * MiB, 12 * MiB, 12 * MiB]);
    const viaHttp = (await (await fetch(`${s.url}/v1/kv/big/h/history`)).json()) as Array<{ value: string }>;
    expect(viaHttp.map((v) => v.value[0])).toEqual(['a', 'b']);
    session.close();
  });
});

