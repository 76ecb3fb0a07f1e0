// The server's syncPull / syncPush calls through KoruClient: answers, bounds, and bad
// input refused with the right codes, nothing of a refused batch stored.
import { afterEach, describe, expect, test } from 'vitest';
import { KoruClient, type KoruError } from '@koru/client';
import { KoruDelta, MAX_SYNC_PULL_VERSIONS, MAX_SYNC_PUSH_VERSIONS, type Version } from '@koru/delta';
import { cleanupAll, server } from './support.js';

afterEach(cleanupAll);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return (e as KoruError).code;
  }
}

async function connect(url: string): Promise<KoruClient> {
  return KoruClient.connect(url, { reconnect: false });
}

/** Versions written on a scratch in-memory database: valid, from another node. */
async function foreignVersions(n: number, ns = 'ns'): Promise<Version[]> {
  const db = await KoruDelta.start();
  const out: Version[] = [];
  for (let i = 0; i < n; i++) out.push(await db.put(ns, `k${i % 7}`, { i }));
  await db.close();
  return out;
}

describe('syncPull', () => {
  test('answers the versions after a seq with their seq, in order, without _koru, paging with next/head', async () => {
    const s = await server();
    const client = await connect(s.url);
    await s.db.createIndex('ns', 'i');
    for (let i = 0; i < 25; i++) await s.db.put('ns', `k${i}`, { i });
    const all = [...s.db.storage.committed()].filter((v) => v.namespace !== '_koru');
    const first = await client.syncPull(0, { limit: 10 });
    expect(first.versions).toHaveLength(10);
    expect(first.head).toBe(s.db.seq);
    expect(first.versions.map((v) => v.versionId)).toEqual(all.slice(0, 10).map((v) => v.versionId));
    for (const v of first.versions) expect(s.db.storage.changeAt(v.seq).version.versionId).toBe(v.versionId);
    let cursor = first.next;
    const ids = first.versions.map((v) => v.versionId);
    while (cursor < s.db.seq) {
      const r = await client.syncPull(cursor);
      ids.push(...r.versions.map((v) => v.versionId));
      cursor = r.next;
    }
    expect(ids).toEqual(all.map((v) => v.versionId));
    expect(ids.some((id) => all.find((v) => v.versionId === id)?.namespace === '_koru')).toBe(false);
    const caughtUp = await client.syncPull(s.db.seq);
    expect(caughtUp).toEqual({ versions: [], next: s.db.seq, head: s.db.seq });
    await client.close();
  });

  test('versions cut by retention are skipped and the answer says so (prunedThrough)', async () => {
    const s = await server();
    for (let i = 0; i < 10; i++) await s.db.put('ns', 'k', { i });
    await s.db.setRetention('ns', { lastVersions: 2 });
    await s.db.storage.compact();
    const client = await connect(s.url);
    const r = await client.syncPull(0);
    expect(r.versions.map((v) => (v.value as { i: number }).i)).toEqual([8, 9]);
    expect(r.prunedThrough).toBe(8);
    expect(r.next).toBe(s.db.seq);
    await client.close();
  });

  test('bad since, limit and namespaces are refused', async () => {
    const s = await server();
    const client = await connect(s.url);
    expect(await codeOf(client.syncPull(-1))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull('3' as never))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull(1.5))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull(0, { limit: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull(0, { limit: MAX_SYNC_PULL_VERSIONS + 1 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull(0, { limit: 'ten' as never }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull(0, { other: 1 } as never))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull(0, { namespaces: '_koru' as never }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPull(0, { namespaces: ['_koru'] }))).toBe('INVALID_NAMESPACE');
    await client.close();
  });
});

describe('syncPush', () => {
  test('applies versions by the merge rule: duplicates skipped, orphans handed back by id', async () => {
    const s = await server();
    const client = await connect(s.url);
    const vs = await foreignVersions(14);
    expect(await client.syncPush(vs)).toEqual({ applied: 14, duplicates: 0, orphans: [] });
    expect(await client.syncPush(vs)).toEqual({ applied: 0, duplicates: 14, orphans: [] });
    const more = await foreignVersions(14, 'other');
    // The second version of each key without the first: orphans.
    const r = await client.syncPush(more.slice(7));
    expect(r.applied).toBe(0);
    expect([...r.orphans].sort()).toEqual(more.slice(7).map((v) => v.versionId).sort());
    await client.close();
  });

  test('a forged version, _koru, an oversize batch, a clock far ahead, a non-array: refused, nothing of the batch stored', async () => {
    const s = await server();
    const client = await connect(s.url);
    const good = await foreignVersions(3, 'fresh');
    const seq = s.db.seq;
    const forged = { ...good[2]!, value: { i: 'changed' } };
    expect(await codeOf(client.syncPush([good[0]!, good[1]!, forged]))).toBe('INVALID_ARGUMENT');
    // Its value and valueId agree, but the id does not match the fields (another node).
    expect(await codeOf(client.syncPush([good[0]!, { ...good[1]!, node: 'someone-else' }]))).toBe('INVALID_ARGUMENT');
    const system = { ...good[0]!, namespace: '_koru' };
    expect(await codeOf(client.syncPush([good[0]!, system]))).toBe('INVALID_NAMESPACE');
    const many = await foreignVersions(MAX_SYNC_PUSH_VERSIONS + 1, 'many');
    expect(await codeOf(client.syncPush(many))).toBe('LIMIT_EXCEEDED');
    const ahead = await KoruDelta.start({ now: () => Date.now() + 60 * 60 * 1000 });
    const future = await ahead.put('fresh', 'z', 1);
    await ahead.close();
    expect(await codeOf(client.syncPush([good[0]!, future]))).toBe('CLOCK_SKEW');
    expect(await codeOf(client.syncPush('x' as never))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.syncPush([null] as never))).toBe('INVALID_ARGUMENT');
    expect(s.db.seq).toBe(seq);
    expect(await s.db.contains('fresh', 'k0')).toBe(false);
    await client.close();
  });

  test('needs the token like every call', async () => {
    const s = await server(undefined, 'tok');
    await expect(KoruClient.connect(s.url, { reconnect: false })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const client = await KoruClient.connect(s.url, { reconnect: false, token: 'tok' });
    expect((await client.syncPull(0)).head).toBe(s.db.seq);
    await client.close();
  });
});
