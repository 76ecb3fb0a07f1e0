// The WebSocket protocol against a real server: handshake, calls, subscriptions, tokens, flow control.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { KoruServer, ServerOptions } from '../src/index.js';
import { Session, startTestServer } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = (options: ServerOptions = {}): Promise<KoruServer> => startTestServer(cleanups, 'koru-ws-', options);

async function open(s: KoruServer, hello?: Record<string, unknown>, headers?: Record<string, string>): Promise<Session> {
  const { session, welcome } = await Session.open(s.url, hello, headers);
  expect(welcome).toMatchObject({ type: 'welcome', protocol: 1, node: s.db.nodeId });
  cleanups.push(() => session.close());
  return session;
}

/** The close code and first message of a socket that should be refused after its hello. */
async function refused(s: KoruServer, hello: unknown, headers: Record<string, string> = {}): Promise<{ code: number; message: any }> {
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}/v1/ws`, { headers });
  await new Promise((r) => ws.once('open', r));
  let message: unknown;
  ws.on('message', (d) => (message ??= JSON.parse(d.toString())));
  ws.send(typeof hello === 'string' ? hello : JSON.stringify(hello));
  const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
  return { code, message };
}

describe('WebSocket /v1/ws', () => {
  it('answers calls by id, pipelined, with results and typed errors', async () => {
    const s = await server();
    const c = await open(s);
    const [v1, v2] = (await Promise.all([c.call('put', 'users', 'alice', { n: 1 }), c.call('put', 'users', 'alice', { n: 2 })])) as Array<{ versionId: string; previousVersion: string | null }>;
    expect(v2!.previousVersion).toBe(v1!.versionId); // applied in the order sent
    expect(await c.call('get', 'users', 'alice')).toEqual({ n: 2 });
    expect(await c.call('history', 'users', 'alice')).toHaveLength(2);
    expect(await c.call('query', 'users', { filter: { n: 2 } })).toMatchObject({ total: 1 });
    expect(await c.call('seq')).toBe(2);
    await expect(c.call('get', 'users', 'nobody')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    await expect(c.call('put', 'users', 'alice', 3, { ifVersion: v1!.versionId })).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    await expect(c.call('frobnicate')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'unknown method "frobnicate"' });
    await expect(c.call('close')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' }); // not callable remotely
  });

  it('pages keys with listKeys options, counts them, and refuses params past those listed', async () => {
    const s = await server();
    const c = await open(s);
    for (const k of ['a1', 'a2', 'b1']) await c.call('put', 'ns', k, 1);
    expect(await c.call('listKeys', 'ns')).toEqual(['a1', 'a2', 'b1']);
    expect(await c.call('listKeys', 'ns', { prefix: 'a', after: 'a1', limit: 5 })).toEqual(['a2']);
    expect(await c.call('listKeys', 'ns', null)).toEqual(['a1', 'a2', 'b1']);
    expect(await c.call('countKeys', 'ns')).toBe(3);
    await expect(c.call('listKeys', 'ns', { limit: 1 }, 'more')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'listKeys takes at most 2 params, got 3' });
    await expect(c.call('countKeys', 'ns', { prefix: 'a' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.call('listKeys', 'ns', { page: 2 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('streams subscription events, resumes with since, and stops on unsubscribe', async () => {
    const s = await server();
    const writer = await open(s);
    await writer.call('put', 'users', 'a', 1);
    const c = await open(s);
    const sub = (await c.call('subscribe', { namespace: 'users', since: 0 })) as { subscription: string; seq: number };
    expect(sub).toEqual({ subscription: expect.stringMatching(/^s\d+$/), seq: 1 });
    await writer.call('put', 'users', 'b', 2);
    await writer.call('put', 'other', 'x', 0);
    await writer.call('delete', 'users', 'a');
    for (let i = 0; i < 100 && c.events.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(c.events.map((e: any) => `${e.seq}:${e.changeType}:${e.key}`)).toEqual(['1:insert:a', '2:insert:b', '4:delete:a']);
    await c.call('unsubscribe', sub.subscription);
    await writer.call('put', 'users', 'c', 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.events).toHaveLength(3);
    expect(c.ends).toEqual([{ type: 'end', subscription: sub.subscription }]);
    await expect(c.call('subscribe', { namespace: '_x' })).rejects.toMatchObject({ code: 'INVALID_NAMESPACE' });
  });

  it('checks the handshake: protocol version, token in the hello or the upgrade header', async () => {
    const s = await server({ token: 'tok' });
    expect(await refused(s, { type: 'hello', protocol: 1 })).toMatchObject({ code: 4001, message: { type: 'error', error: { code: 'UNAUTHORIZED' } } });
    expect(await refused(s, { type: 'hello', protocol: 1, token: 'nope' })).toMatchObject({ code: 4001 });
    expect(await refused(s, { type: 'hello', protocol: 2, token: 'tok' })).toMatchObject({ code: 4002, message: { error: { code: 'PROTOCOL_ERROR' } } });
    expect(await refused(s, { id: 1, method: 'get' })).toMatchObject({ code: 4000 });
    expect(await refused(s, 'not json')).toMatchObject({ code: 1007 });
    await open(s, { type: 'hello', protocol: 1, token: 'tok' });
    await open(s, { type: 'hello', protocol: 1 }, { authorization: 'Bearer tok' });
    const bad = new WebSocket(`${s.url.replace('http', 'ws')}/v1/ws`, { headers: { authorization: 'Bearer wrong' } });
    const status = await new Promise<number>((r) => bad.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it('drops a client that stops reading instead of buffering without bound', async () => {
    const s = await server({ maxQueuedBytes: 256 * 1024 });
    const c = await open(s);
    await c.call('subscribe', { namespace: 'big' });
    const closed = new Promise<number>((r) => c.ws.once('close', (code) => r(code)));
    // Stop reading: the server's writes back up.
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const writer = await open(s);
    const value = { blob: 'x'.repeat(64 * 1024) };
    for (let i = 0; i < 200; i++) await writer.call('put', 'big', `k${i % 10}`, { ...value, i });
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1006); // dropped, no close frame
    expect(await writer.call('get', 'big', 'k9')).toMatchObject({ i: 199 }); // the server is fine
  });
});
