// KoruClient beyond the shared API: connecting, tokens, protocol errors, the
// reconnect rules for calls in flight and waiting, and subscriptions resuming across
// real server restarts (graceful and killed) without losing or repeating an event.
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { KoruClient, KoruError, type ChangeEvent, type ConnectionState, type LaggedEvent, type PrunedEvent } from '@koru/client';
import { FakeServer } from './fake-server.js';
import { closeAllGates, freshDir, Gate, rejectsWith, startServer, stopAllServers, waitFor } from './support.js';

const FAST = { initialDelayMs: 20, maxDelayMs: 200 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const clients: KoruClient[] = [];
const fakes: FakeServer[] = [];
/** Connects and remembers the client, so every test's clients are closed after it. */
async function connect(url: string, options: Parameters<typeof KoruClient.connect>[1] = {}): Promise<KoruClient> {
  const c = await KoruClient.connect(url, options);
  clients.push(c);
  return c;
}
async function fake(): Promise<FakeServer> {
  const f = await FakeServer.start();
  fakes.push(f);
  return f;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  await closeAllGates();
});
afterAll(stopAllServers);

describe('connect', () => {
  test('resolves at the welcome: node id, server name and seq; URL forms', async () => {
    const server = await startServer();
    const a = await connect(server.url);
    expect(a.state).toBe('open');
    expect(a.url).toBe(server.url);
    expect(a.server).toMatch(/^koru-delta\//);
    expect(a.seq).toBe(0);
    const v = await a.put('n', 'k', 1);
    await a.put('n', 'k', 2);
    expect(a.nodeId).toBe(v.node);
    expect(a.seq).toBe(0); // nothing told it yet
    expect(await a.currentSeq()).toBe(2);
    expect(a.seq).toBe(2);
    for (const url of [`${server.url}/`, server.url.replace('http:', 'ws:'), `${server.url}/v1/ws`]) {
      const b = await connect(url);
      expect(b.seq).toBe(2);
      expect(b.url).toBe(server.url);
      expect(await b.get('n', 'k')).toBe(2);
    }
  });

  test('bad URLs and options → INVALID_ARGUMENT before any connection', async () => {
    await rejectsWith(KoruClient.connect('not a url'), 'INVALID_ARGUMENT', /not a URL/);
    await rejectsWith(KoruClient.connect('ftp://127.0.0.1:1'), 'INVALID_ARGUMENT', /scheme/);
    await rejectsWith(KoruClient.connect('http://user:pw@127.0.0.1:1'), 'INVALID_ARGUMENT', /token/);
    await rejectsWith(KoruClient.connect('http://127.0.0.1:1', { timeoutMs: -1 }), 'INVALID_ARGUMENT', /timeoutMs/);
    await rejectsWith(KoruClient.connect('http://127.0.0.1:1', { reconnect: { initialDelayMs: Number.NaN } }), 'INVALID_ARGUMENT', /initialDelayMs/);
    await rejectsWith(KoruClient.connect('http://127.0.0.1:1', { token: 5 as never }), 'INVALID_ARGUMENT', /token/);
  });

  test('nothing listening → IO_ERROR at once (connect does not retry)', async () => {
    const server = await startServer();
    const { url } = server;
    await server.stop();
    const t0 = Date.now();
    const e = await rejectsWith(KoruClient.connect(url), 'IO_ERROR', /cannot connect/);
    expect(e.details).toMatchObject({ url });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  test('a server that is not KoruDelta, or speaks another protocol → PROTOCOL_ERROR; one that never answers → IO_ERROR', async () => {
    const f = await fake();
    f.welcome = () => ({ type: 'welcome', protocol: 2, server: 'future', node: 'n', seq: 0 });
    await rejectsWith(KoruClient.connect(f.url), 'PROTOCOL_ERROR', /protocol 2/);
    f.welcome = () => 'this is not json';
    await rejectsWith(KoruClient.connect(f.url), 'PROTOCOL_ERROR', /expected a welcome/);
    f.welcome = () => ({ type: 'error', error: { code: 'PROTOCOL_ERROR', message: 'unsupported protocol 1' } });
    await rejectsWith(KoruClient.connect(f.url), 'PROTOCOL_ERROR', /unsupported protocol/);
    f.welcome = () => ({ type: 'nothing' });
    await rejectsWith(KoruClient.connect(f.url), 'PROTOCOL_ERROR');
    expect(f.hellos).toContainEqual({ type: 'hello', protocol: 1 });
    // A server that accepts the socket but never says anything.
    const { WebSocketServer } = await import('ws');
    const mute = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => mute.once('listening', r));
    try {
      const port = (mute.address() as { port: number }).port;
      await rejectsWith(KoruClient.connect(`http://127.0.0.1:${port}`, { timeoutMs: 300 }), 'IO_ERROR', /no welcome/);
    } finally {
      for (const ws of mute.clients) ws.terminate();
      await new Promise((r) => mute.close(r));
    }
  });
});

describe('token', () => {
  test('missing or wrong → UNAUTHORIZED; right → connected (sent in the hello, as browsers must)', async () => {
    const server = await startServer({ token: 's3cret' });
    const missing = await rejectsWith(KoruClient.connect(server.url), 'UNAUTHORIZED', /token/);
    expect(missing.name).toBe('KoruError');
    await rejectsWith(KoruClient.connect(server.url, { token: 'wrong' }), 'UNAUTHORIZED');
    const ok = await connect(server.url, { token: 's3cret' });
    await ok.put('t', 'k', 1);
    expect(await ok.get('t', 'k')).toBe(1);
    const f = await fake();
    await connect(f.url, { token: 'abc' });
    expect(f.hellos).toEqual([{ type: 'hello', protocol: 1, token: 'abc' }]);
  });

  test('a server restarted with another token: the reconnect fails for good with UNAUTHORIZED', async () => {
    const dir = freshDir();
    const first = await startServer({ dir, token: 'one' });
    const states: Array<[ConnectionState, string | undefined]> = [];
    const c = await connect(first.url, { token: 'one', reconnect: FAST, onStateChange: (s, e) => states.push([s, e?.code]) });
    const sub = c.subscribe({}, () => {});
    await first.stop();
    await startServer({ dir, port: first.port, token: 'two' });
    await waitFor(() => c.state === 'closed', 10_000, 'the client to give up');
    await rejectsWith(sub.done, 'UNAUTHORIZED');
    await rejectsWith(c.get('t', 'k'), 'UNAUTHORIZED');
    expect(states.slice(0, 2)).toEqual([['open', undefined], ['reconnecting', undefined]]);
    expect(states.at(-1)).toEqual(['closed', 'UNAUTHORIZED']);
  });
});

describe('calls and a lost connection', () => {
  test('in flight when the socket drops: the write fails with IO_ERROR (may or may not be applied), the read is sent again', async () => {
    const f = await fake();
    let drops = 0;
    f.script = (call, s) => {
      // The first socket gets put then get, and drops with both unanswered.
      if (drops === 0) {
        if (call.method === 'get') {
          drops++;
          s.drop();
        }
        return;
      }
      s.answer(call.method === 'get' ? { answered: 'after the reconnect' } : null);
    };
    const c = await connect(f.url, { reconnect: FAST });
    const put = c.put('ns', 'k', 1);
    const get = c.get('ns', 'k');
    const e = await rejectsWith(put, 'IO_ERROR', /^connection lost; the write may or may not have been applied$/);
    expect(e.details).toMatchObject({ method: 'put' });
    expect(await get).toEqual({ answered: 'after the reconnect' });
    expect(f.calls.map((x) => x.method)).toEqual(['put', 'get', 'get']);
    expect(f.calls[1]!.id).toBe(f.calls[2]!.id);
  });

  test('every in-flight write kind fails; idempotent ones (createIndex, refreshView) are retried', async () => {
    const f = await fake();
    let first = true;
    f.script = (call, s) => {
      if (first) {
        if (call.method === 'refreshView') {
          first = false;
          s.drop();
        }
        return;
      }
      s.answer({ retried: call.method });
    };
    const c = await connect(f.url, { reconnect: FAST });
    const writes = [
      c.putMany([{ namespace: 'n', key: 'k', value: 1 }]),
      c.delete('n', 'k'),
      c.dropIndex('n', 'f'),
      c.createView({ name: 'v', namespace: 'n' }),
      c.deleteView('v'),
      c.importVersions([]),
    ];
    const idempotent = [c.createIndex('n', 'f'), c.refreshView('v')];
    for (const w of writes) await rejectsWith(w, 'IO_ERROR', /may or may not/);
    expect(await Promise.all(idempotent)).toEqual([{ retried: 'createIndex' }, { retried: 'refreshView' }]);
  });

  test('calls made while reconnecting wait for the connection, at most timeoutMs', async () => {
    const f = await fake();
    const port = f.port;
    const c = await connect(f.url, { reconnect: FAST, timeoutMs: 400 });
    await f.close();
    await waitFor(() => c.state === 'reconnecting', 5_000, 'reconnecting');
    const t0 = Date.now();
    const e = await rejectsWith(c.get('n', 'k'), 'IO_ERROR', /no connection .* within 400 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(e.details).toMatchObject({ method: 'get' });
    // A call made now waits, and is sent once a server is back on the port.
    const waiting = c.put('n', 'k', { queued: true });
    const back = await FakeServer.start(port);
    fakes.push(back);
    back.script = (call, s) => s.answer({ got: call.method, params: call.params });
    expect(await waiting).toEqual({ got: 'put', params: ['n', 'k', { queued: true }] });
    expect(c.state).toBe('open');
  });

  test('reconnect: false — a lost connection closes the client', async () => {
    const server = await startServer();
    const states: ConnectionState[] = [];
    const c = await connect(server.url, { reconnect: false, onStateChange: (s) => states.push(s) });
    const sub = c.subscribe({}, () => {});
    await server.stop('SIGKILL');
    await waitFor(() => c.state === 'closed', 5_000, 'closed');
    await rejectsWith(sub.done, 'IO_ERROR');
    await rejectsWith(c.get('n', 'k'), 'IO_ERROR', /lost/);
    expect(states).toEqual(['open', 'closed']);
  });

  test('close(): calls in flight are answered first; calls waiting for a connection fail with CLOSED', async () => {
    const f = await fake();
    f.script = (call, s) => {
      setTimeout(() => s.answer('late answer'), 200);
    };
    const c = await connect(f.url, { reconnect: FAST });
    const inFlight = c.get('n', 'k');
    await c.close();
    expect(await inFlight).toBe('late answer');
    expect(c.state).toBe('closed');
    await rejectsWith(c.get('n', 'k'), 'CLOSED');

    const g = await fake();
    const d = await connect(g.url, { reconnect: { initialDelayMs: 5_000, maxDelayMs: 5_000 } });
    await g.close();
    await waitFor(() => d.state === 'reconnecting', 5_000, 'reconnecting');
    const waiting = d.get('n', 'k');
    await d.close();
    await rejectsWith(waiting, 'CLOSED');
  });

  test('a message over maxMessageBytes fails with BODY_TOO_LARGE and is not sent', async () => {
    const f = await fake();
    const c = await connect(f.url, { maxMessageBytes: 1000 });
    const e = await rejectsWith(c.put('n', 'k', 'é'.repeat(600)), 'BODY_TOO_LARGE', /maxMessageBytes/);
    expect(e.details).toMatchObject({ maxBytes: 1000 });
    expect(f.calls).toEqual([]);
    await c.put('n', 'k', 'small');
    expect(f.calls).toHaveLength(1);
  });

  test('server errors come back with their code, message and details; unknown codes are kept', async () => {
    const f = await fake();
    f.script = (call, s) => {
      if (call.method === 'get') s.fail('SOMETHING_NEW', 'a code from a newer server');
      else s.answer(null);
    };
    const c = await connect(f.url);
    const e = await rejectsWith(c.get('n', 'k'), 'SOMETHING_NEW', /newer server/);
    expect(e).toBeInstanceOf(KoruError);
  });
});

describe('reconnect and resume against real servers', () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`server stopped with ${signal} and restarted on the same data and port: every event exactly once, in order`, async () => {
      const dir = freshDir();
      let server = await startServer({ dir });
      const { port } = server;
      // The subscriber reaches the server through a gate, kept shut after the restart
      // until others have written to the new server: those changes must be replayed.
      const gate = await Gate.start(port);
      const states: ConnectionState[] = [];
      const subscriber = await connect(gate.url, { reconnect: FAST, onStateChange: (s) => states.push(s) });
      const writer = await connect(server.url, { reconnect: FAST });

      const fast: ChangeEvent[] = [];
      const slow: ChangeEvent[] = [];
      const other: Array<ChangeEvent | LaggedEvent | PrunedEvent> = [];
      const subs = [
        subscriber.subscribe({ namespace: 'r' }, (e) => {
          if (e.type === 'change') fast.push(e);
          else other.push(e);
        }),
        subscriber.subscribe({ namespace: 'r', bufferSize: 10_000 }, async (e) => {
          await sleep(1);
          if (e.type === 'change') slow.push(e);
          else other.push(e);
        }),
      ];
      const iterated: number[] = [];
      const iterator = subscriber.changes({ namespace: 'r', since: 0, bufferSize: 10_000 });
      const consuming = (async () => {
        for await (const e of iterator) {
          if (e.type !== 'change') throw new Error(`unexpected ${e.type}`);
          iterated.push(e.seq);
          if (iterated.length === 61) break;
        }
      })();

      // Subscriptions without `since` start at the head when the server gets them; one
      // round trip on the subscriber's socket after them fixes that point before the
      // writer (another socket) writes.
      expect(await subscriber.currentSeq()).toBe(0);
      for (let i = 0; i < 20; i++) await writer.put('r', `k${i}`, { i });
      await waitFor(() => fast.length === 20, 10_000, `the first 20 events (fast ${fast.length}, slow ${slow.length}, iterated ${iterated.length})`);

      gate.open = false;
      expect(await server.stop(signal)).toBe(signal === 'SIGTERM' ? 0 : null);
      await waitFor(() => subscriber.state === 'reconnecting', 10_000, 'the subscriber to notice');
      // Made during the outage: they wait, then go to the new server.
      const read = subscriber.get('r', 'k0');
      const queuedWrite = writer.put('r', 'during-outage', { queued: true });

      server = await startServer({ dir, port });
      // Others write to the new server while the subscriber is still away.
      const third = await connect(server.url);
      for (let i = 20; i < 40; i++) await third.put('r', `k${i}`, { i });
      await queuedWrite;
      await sleep(300); // the subscriber keeps trying, and failing, meanwhile
      expect(subscriber.state).toBe('reconnecting');
      expect(fast).toHaveLength(20);
      gate.open = true;
      expect(await read).toEqual({ i: 0 });
      await waitFor(() => subscriber.state === 'open', 10_000, 'the subscriber to reconnect');
      for (let i = 40; i < 60; i++) await writer.put('r', `k${i}`, { i });

      await waitFor(() => fast.length >= 61 && slow.length >= 61 && iterated.length >= 61, 20_000, 'all 61 events');
      await consuming;
      await sleep(100); // nothing more may arrive
      const expected = Array.from({ length: 61 }, (_, i) => i + 1);
      expect(fast.map((e) => e.seq)).toEqual(expected);
      expect(slow.map((e) => e.seq)).toEqual(expected);
      expect(iterated).toEqual(expected);
      expect(other).toEqual([]);
      expect(new Set(fast.map((e) => e.key)).size).toBe(61);
      expect(fast.find((e) => e.key === 'during-outage')?.value).toEqual({ queued: true });
      expect(states).toEqual(['open', 'reconnecting', 'open']);
      expect(subscriber.seq).toBe(61);
      for (const s of subs) s.unsubscribe();
      await Promise.all(subs.map((s) => s.done));
    });
  }

  test('a subscription made while disconnected starts from the last seq known, so nothing written meanwhile is missed', async () => {
    const dir = freshDir();
    const server = await startServer({ dir });
    const gate = await Gate.start(server.port);
    const c = await connect(gate.url, { reconnect: FAST });
    await c.put('m', 'a', 1);
    await c.currentSeq();
    gate.open = false;
    await server.stop();
    await waitFor(() => c.state === 'reconnecting', 5_000, 'reconnecting');
    const seen: string[] = [];
    const sub = c.subscribe({ namespace: 'm' }, (e) => {
      if (e.type === 'change') seen.push(e.key);
    });
    const next = await startServer({ dir, port: server.port });
    const other = await connect(next.url);
    await other.put('m', 'b', 1); // while c is away
    gate.open = true;
    await waitFor(() => seen.length === 1, 10_000, 'the change made while c was away');
    await other.put('m', 'c', 1);
    await waitFor(() => seen.length === 2, 10_000, 'a live change');
    expect(seen).toEqual(['b', 'c']);
    sub.unsubscribe();
  });

  test('a subscription with until beyond the head ends once the head passes it', async () => {
    const server = await startServer();
    const c = await connect(server.url);
    await c.put('u', 'a', 1);
    const seen: number[] = [];
    const sub = c.subscribe({ namespace: 'u', since: 0, until: 3 }, (e) => {
      seen.push(e.seq);
    });
    await c.put('u', 'b', 1);
    await c.put('other', 'x', 1); // seq 3 does not match: only the head tells the client
    await sub.done;
    expect(seen).toEqual([1, 2]);
  });
});
