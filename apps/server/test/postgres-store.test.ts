// A server on a PostgreSQL store, against a real PostgreSQL the test starts: REST and
// WebSocket calls, what has no meaning on a store (sync, the state root, the cluster),
// 503 UNAVAILABLE while PostgreSQL is down and recovery once it is back, without
// restarting the server; the executable's ready line without the URL's password.
import { postgresAvailable, startPostgres, type PgServer } from '@koru/vitest-preset/postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type KoruServer } from '../src/index.js';
import { exited, Session, spawnServer } from './support.js';

const tool = postgresAvailable();
if (!tool.available) console.log(`[server postgres] skipped: ${tool.reason}`);

const JSON_HEADERS = { 'content-type': 'application/json' };
/** A bound on any one request: a server that hangs fails the test instead of blocking it. */
const REQUEST_BOUND_MS = 15_000;

async function put(url: string, path: string, value: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'PUT', headers: JSON_HEADERS, body: JSON.stringify(value), signal: AbortSignal.timeout(REQUEST_BOUND_MS) });
}

async function get(url: string, path: string): Promise<Response> {
  return fetch(`${url}${path}`, { signal: AbortSignal.timeout(REQUEST_BOUND_MS) });
}

describe.skipIf(!tool.available)('server on a PostgreSQL store', () => {
  let pg: PgServer;
  const cleanups: Array<() => Promise<unknown> | void> = [];
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function serveStore(store: string): Promise<KoruServer> {
    const server = await startServer({ store, port: 0, log: 'silent', console: false });
    cleanups.push(() => server.close());
    return server;
  }

  it('serves REST put, get and history, with no cluster and no state root', async () => {
    const server = await serveStore(await pg.createDatabase());
    expect(server.cluster).toBeUndefined();
    const first = (await (await put(server.url, '/v1/kv/users/alice', { n: 1 })).json()) as { versionId: string };
    const second = await put(server.url, '/v1/kv/users/alice', { n: 2 });
    expect(second.status).toBe(200);
    const secondId = ((await second.json()) as { versionId: string; previousVersion: string }).versionId;
    expect(await (await get(server.url, '/v1/kv/users/alice')).json()).toEqual({ n: 2 });
    const history = (await (await get(server.url, '/v1/kv/users/alice/history')).json()) as Array<{ versionId: string; value: unknown }>;
    expect(history.map((v) => [v.versionId, v.value])).toEqual([
      [first.versionId, { n: 1 }],
      [secondId, { n: 2 }],
    ]);
    const conflict = await fetch(`${server.url}/v1/kv/users/alice`, { method: 'PUT', headers: { ...JSON_HEADERS, 'if-match': `"${first.versionId}"` }, body: '{"n":3}' });
    expect(conflict.status).toBe(412);
    const status = (await (await get(server.url, '/v1/status')).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ stateRoot: null, cluster: null, adapter: 'postgres', keys: 1, versions: 2 });
    expect(await (await get(server.url, '/v1/cluster/peers')).json()).toMatchObject({ address: null, peers: [] });
  });

  it('exports every version in commit order, as the embedded server does', async () => {
    const server = await serveStore(await pg.createDatabase());
    for (let i = 0; i < 5; i++) expect((await put(server.url, `/v1/kv/${i % 2 === 0 ? 'even' : 'odd'}/k`, { i })).status).toBe(200);
    const lines = (await (await get(server.url, '/v1/export')).text()).trim().split('\n').map((l) => JSON.parse(l) as { namespace: string; value: { i: number } });
    expect(lines.map((v) => v.value.i)).toEqual([0, 1, 2, 3, 4]);
    const odd = (await (await get(server.url, '/v1/export?namespace=odd')).text()).trim().split('\n').map((l) => JSON.parse(l) as { value: { i: number } });
    expect(odd.map((v) => v.value.i)).toEqual([1, 3]);
  });

  it('answers browser sync and stateRoot calls with UNSUPPORTED, serverStatus with a null state root', async () => {
    const server = await serveStore(await pg.createDatabase());
    const { session } = await Session.open(server.url);
    cleanups.push(() => session.ws.close());
    await expect(session.call('syncPull', 0, 100)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/sync/) });
    await expect(session.call('syncPush', [])).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(session.call('stateRoot')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await session.call('put', 'a', 'b', 1);
    expect(await session.call('serverStatus')).toMatchObject({ stateRoot: null, keys: 1 });
  });

  it('refuses a store with a path, a database or members to join', async () => {
    const url = pg.url;
    await expect(startServer({ store: url, path: '/nonexistent', port: 0, log: 'silent' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(startServer({ store: url, port: 0, log: 'silent', cluster: { join: ['127.0.0.1:1'] } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/joins no cluster/),
    });
    await expect(startServer({ storeConnections: 2, port: 0, log: 'silent', console: false })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('answers 503 UNAVAILABLE while PostgreSQL is down, and recovers on its own once it is back', async () => {
    const server = await serveStore(await pg.createDatabase());
    const before = (await (await put(server.url, '/v1/kv/live/before', { up: true })).json()) as { versionId: string };
    // A subscriber across the outage: it sees the writes made after it.
    const { session } = await Session.open(server.url);
    cleanups.push(() => session.ws.close());
    await session.call('subscribe', { namespace: 'live' });
    await pg.kill();
    try {
      for (const res of [await put(server.url, '/v1/kv/live/during', { up: false }), await get(server.url, '/v1/kv/live/before'), await get(server.url, '/v1/status')]) {
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
      }
      // A WebSocket call gets the same code.
      await expect(session.call('get', 'live', 'before')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await pg.restart();
    }
    // The same server, not restarted: the pool reconnects at the next call.
    let after: Response | undefined;
    for (let i = 0; i < 100; i++) {
      after = await put(server.url, '/v1/kv/live/after', { up: true });
      if (after.status === 200) break;
      await after.text();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(after?.status).toBe(200);
    expect(((await (await get(server.url, '/v1/kv/live/before/versions/current')).json()) as { versionId: string }).versionId).toBe(before.versionId);
    // The write refused while PostgreSQL was down is not there.
    expect((await get(server.url, '/v1/kv/live/during')).status).toBe(404);
    expect(await session.call('verify')).toMatchObject({ ok: true });
    // The listener reconnects too (at its next poll): the subscriber gets the new write.
    const keys = (): string[] => session.events.map((e) => (e as { key?: string }).key ?? `(${(e as { type?: string }).type})`);
    for (let i = 0; i < 150 && !keys().includes('after'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(keys()).toEqual(['after']);
  });

  it('the executable serves a store and never prints its password', async () => {
    const url = new URL(await pg.createDatabase());
    // The harness trusts loopback: a password is accepted and ignored, as it must not be printed.
    url.password = 'hunter2-secret';
    const { child, url: serverUrl, stderr } = await spawnServer(['--store', url.toString(), '--no-console']);
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      return exited(child);
    });
    expect(stderr()).toMatch(/serving postgres:\/\/koru:\*\*\*@127\.0\.0\.1:\d+\/\w+ at http/);
    expect(stderr()).not.toMatch(/hunter2/);
    expect((await put(serverUrl, '/v1/kv/p/q', 1)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(stderr()).not.toMatch(/hunter2/);
  });

  it('the executable refuses --store with -d, and --store with --join (exit 2)', async () => {
    await expect(spawnServer(['--store', pg.url, '-d', '/nonexistent'])).rejects.toThrow(/exited 2: koru: cannot start: a store and a database directory both say/);
    await expect(spawnServer(['--store', pg.url, '--join', '127.0.0.1:1'])).rejects.toThrow(/exited 2: koru: cannot start: a server on a store joins no cluster/);
    await expect(spawnServer([], { KORU_STORE: pg.url, KORU_DB_PATH: '/nonexistent' })).rejects.toThrow(/exited 2: .*KORU_STORE and KORU_DB_PATH both say/);
    await expect(spawnServer(['-d', '/nonexistent'], { KORU_STORE: pg.url })).rejects.toThrow(/exited 2: .*KORU_STORE and a database directory both say/);
    await expect(spawnServer(['--store', pg.url], { KORU_DB_PATH: '/nonexistent' })).rejects.toThrow(/exited 2: .*a store and KORU_DB_PATH both say/);
  });
});
