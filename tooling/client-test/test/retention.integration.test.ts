// Retention and purge through a real server: the client's methods match the embedded
// handle's, HISTORY_PRUNED comes back as a KoruError with its code and details (the
// REST route answers 410), and a `since` before a purge gets the feed's `pruned` event
// over the WebSocket, after which the subscription goes on.
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { ErrorCodes, KoruClient, KoruError, type ChangeEvent, type LaggedEvent, type PrunedEvent } from '@koru/client';
import { rejectsWith, startServer, stopAllServers } from './support.js';

type Event = ChangeEvent | LaggedEvent | PrunedEvent;
const brief = (e: Event): string => (e.type === 'change' ? `${e.seq}:${e.changeType}:${e.key}` : `${e.type}@${e.seq}${e.type === 'pruned' ? `→${e.resyncFrom}` : ''}`);

const clients: KoruClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(stopAllServers);

async function connect(url: string): Promise<KoruClient> {
  const c = await KoruClient.connect(url);
  clients.push(c);
  return c;
}

describe('retention and purge over the wire', () => {
  test('sets, shows and lists policies; refuses a bad one with the database error', async () => {
    const server = await startServer();
    const c = await connect(server.url);
    expect(await c.retention('a')).toEqual({ keep: 'all' });
    expect(await c.setRetention('a', { lastVersions: 2 })).toEqual({ lastVersions: 2 });
    expect(await c.retention('a')).toEqual({ lastVersions: 2 });
    expect(await c.retentionPolicies()).toEqual([['a', { lastVersions: 2 }]]);
    await rejectsWith(c.setRetention('a', { lastVersions: 0 }), ErrorCodes.INVALID_ARGUMENT);
    await rejectsWith(c.retention('_koru'), ErrorCodes.INVALID_NAMESPACE);
  });

  test('purges, and time travel before the horizon is HISTORY_PRUNED with its details (410 over REST)', async () => {
    const server = await startServer();
    const c = await connect(server.url);
    const v1 = await c.put('p', 'ann', { secret: 1 });
    await new Promise((r) => setTimeout(r, 5));
    const v2 = await c.put('p', 'ann', { secret: 2 });
    const r = await c.purge('p', 'ann');
    expect(r).toMatchObject({ namespace: 'p', key: 'ann', removed: [v2.versionId, v1.versionId] });
    expect(await c.contains('p', 'ann')).toBe(false);
    expect((await c.history('p', 'ann')).map((v) => v.deleted)).toEqual([true]);
    expect((await c.verify()).ok).toBe(true);
    const e = await rejectsWith(c.getAt('p', 'ann', v1.timestamp), ErrorCodes.HISTORY_PRUNED);
    expect(e).toBeInstanceOf(KoruError);
    expect(e.details).toMatchObject({ namespace: 'p', key: 'ann', purged: true, horizon: { versionId: r.tombstone } });
    await rejectsWith(c.purge('p', 'never'), ErrorCodes.KEY_NOT_FOUND);

    const rest = await fetch(`${server.url}/v1/kv/p/ann?at=${encodeURIComponent(v1.timestamp)}`);
    expect(rest.status).toBe(410);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('HISTORY_PRUNED');
  });

  test('REST: policy routes validate the body; purge is a POST on the key', async () => {
    const server = await startServer();
    const json = { 'content-type': 'application/json' };
    const put = (ns: string, body: unknown) => fetch(`${server.url}/v1/retention/${ns}`, { method: 'PUT', headers: json, body: JSON.stringify(body) });
    expect((await put('a', { lastVersions: 3 })).status).toBe(200);
    expect(await (await fetch(`${server.url}/v1/retention/a`)).json()).toEqual({ lastVersions: 3 });
    expect(await (await fetch(`${server.url}/v1/retention`)).json()).toEqual([['a', { lastVersions: 3 }]]);
    for (const bad of [{}, { lastVersions: 0 }, { lastVersions: 2, maxAgeMs: 5 }, { keep: 'some' }, { lastVersions: '2' }, [1]]) {
      const res = await put('a', bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect(await (await fetch(`${server.url}/v1/retention/a`)).json()).toEqual({ lastVersions: 3 });
    expect((await put('a', { keep: 'all' })).status).toBe(200);
    expect(await (await fetch(`${server.url}/v1/retention`)).json()).toEqual([]);

    await fetch(`${server.url}/v1/kv/u/a%2Fb`, { method: 'PUT', headers: json, body: '{"x":1}' });
    const purged = await fetch(`${server.url}/v1/kv/u/a%2Fb/purge`, { method: 'POST' });
    expect(purged.status).toBe(200);
    expect(await purged.json()).toMatchObject({ namespace: 'u', key: 'a/b', removed: [expect.any(String)] });
    expect((await fetch(`${server.url}/v1/kv/u/a%2Fb`)).status).toBe(404);
    expect((await fetch(`${server.url}/v1/kv/u/nobody/purge`, { method: 'POST' })).status).toBe(404);
  });

  test('a subscription whose since predates a purge gets one pruned event, then goes on live', async () => {
    const server = await startServer();
    const c = await connect(server.url);
    await c.put('p', 'k', 1); // seq 1
    await c.put('p', 'k', 2); // seq 2
    await c.purge('p', 'k'); // seq 3: the tombstone; changes 1–2 are gone
    const seen: Event[] = [];
    const sub = c.subscribe({ since: 0 }, (e) => {
      seen.push(e);
    });
    const waitLen = async (n: number): Promise<void> => {
      for (let i = 0; i < 500 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    await waitLen(1);
    await c.put('q', 'x', 1);
    await waitLen(2);
    sub.unsubscribe();
    expect(seen.map(brief)).toEqual(['pruned@1→3', '4:insert:x']);

    const it = c.changes({ since: 1 });
    expect((await it.next()).value).toMatchObject({ type: 'pruned', seq: 2, resyncFrom: 4 });
    const live = it.next();
    await c.put('q', 'x', 2);
    expect(brief((await live).value as Event)).toBe('5:update:x');
    await it.return?.();
  });
});
