// db.sync against a real server: both ways, two local databases through one server,
// status, and the option checks.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { KoruError } from '@koru/delta';
import { cleanupAll, local, server, until } from './support.js';

afterEach(cleanupAll);

describe('db.sync', () => {
  test('a write on the server reaches the synced local database; a local write reaches the server', async () => {
    const s = await server();
    const db = await local();
    const sync = await db.sync(s.url);
    await s.db.put('notes', 'a', { from: 'server' });
    await until('the server write to arrive', () => db.storage.contains('notes', 'a'));
    expect(await db.getVersion('notes', 'a')).toEqual(await s.db.getVersion('notes', 'a'));
    const mine = await db.put('notes', 'b', { from: 'local' });
    await sync.synced();
    expect(await s.db.getVersion('notes', 'b')).toEqual(mine);
    expect(sync.status).toMatchObject({ online: true, pending: 0 });
    expect(sync.status.lastSyncedSeq).toBe(s.db.seq);
    expect(sync.status.lastPushedSeq).toBe(db.seq);
    expect(db.syncStatus).toBe(sync.status);
  });

  test('two local databases synced to one server see each other\'s writes, with the same version ids', async () => {
    const s = await server();
    const a = await local();
    const b = await local();
    const sa = await a.sync(s.url);
    const sb = await b.sync(s.url);
    const va = await a.put('todo', 'x', { by: 'a' });
    const vb = await b.put('todo', 'y', { by: 'b' });
    await until('b to see a', () => b.storage.contains('todo', 'x'));
    await until('a to see b', () => a.storage.contains('todo', 'y'));
    expect(await b.getVersion('todo', 'x')).toEqual(va);
    expect(await a.getVersion('todo', 'y')).toEqual(vb);
    await Promise.all([sa.synced(), sb.synced()]);
    expect(a.storage.stateRoot()).toBe(s.db.storage.stateRoot());
    expect(b.storage.stateRoot()).toBe(s.db.storage.stateRoot());
  });

  test('namespaces: only the namespaces named are pushed and pulled', async () => {
    const s = await server();
    const db = await local();
    const sync = await db.sync(s.url, { namespaces: ['shared'] });
    await s.db.put('shared', 'k', 1);
    await s.db.put('server-only', 'k', 2);
    await db.put('shared', 'l', 3);
    await db.put('local-only', 'l', 4);
    await sync.synced();
    expect(await db.get('shared', 'k')).toBe(1);
    expect(await db.contains('server-only', 'k')).toBe(false);
    expect(await s.db.get('shared', 'l')).toBe(3);
    expect(await s.db.contains('local-only', 'l')).toBe(false);
    // The local-only write is not pending: it is not synced at all.
    expect(sync.status.pending).toBe(0);
  });

  test('pending counts the local versions not yet acknowledged, down to 0; online flips', async () => {
    const s = await server();
    const db = await local();
    const statuses: Array<{ online: boolean; pending: number }> = [];
    for (let i = 0; i < 5; i++) await db.put('ns', `k${i}`, i);
    const sync = await db.sync(s.url);
    sync.onStatus((st) => statuses.push({ online: st.online, pending: st.pending }));
    await sync.synced();
    expect(sync.status.pending).toBe(0);
    expect(statuses.some((st) => st.pending === 5)).toBe(true);
    expect(statuses.at(-1)).toMatchObject({ online: true, pending: 0 });
    await sync.stop();
    expect(sync.status.online).toBe(false);
    expect(db.syncStatus).toBeUndefined();
  });

  test('bad url, bad options and a second sync are INVALID_ARGUMENT; the reserved namespace INVALID_NAMESPACE', async () => {
    const s = await server();
    const db = await local();
    const code = async (p: Promise<unknown>): Promise<string> => {
      try {
        await p;
        return 'resolved';
      } catch (e) {
        expect(e).toBeInstanceOf(KoruError);
        return (e as KoruError).code;
      }
    };
    expect(await code(db.sync('not a url'))).toBe('INVALID_ARGUMENT');
    expect(await code(db.sync('ftp://127.0.0.1:1'))).toBe('INVALID_ARGUMENT');
    expect(await code(db.sync(42 as never))).toBe('INVALID_ARGUMENT');
    expect(await code(db.sync(s.url, { nope: 1 } as never))).toBe('INVALID_ARGUMENT');
    expect(await code(db.sync(s.url, { token: 5 } as never))).toBe('INVALID_ARGUMENT');
    expect(await code(db.sync(s.url, { namespaces: [] }))).toBe('INVALID_ARGUMENT');
    expect(await code(db.sync(s.url, { namespaces: ['_koru'] }))).toBe('INVALID_NAMESPACE');
    const sync = await db.sync(s.url);
    expect(await code(db.sync(s.url))).toBe('INVALID_ARGUMENT');
    await sync.stop();
    // Stopped: another may start.
    const again = await db.sync(s.url);
    await again.synced();
  });

  test('start({ syncWith }) syncs from the start, and checks the option like the others; close() stops the sync', async () => {
    const s = await server();
    await s.db.put('ns', 'k', 'v');
    const { KoruDelta } = await import('@koru/delta');
    await expect(KoruDelta.start({ syncWith: { url: 'nope' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(KoruDelta.start({ syncWith: { url: s.url, extra: 1 } as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const db = await KoruDelta.start({ syncWith: { url: s.url } });
    await until('the server value to arrive', () => db.storage.contains('ns', 'k'));
    expect(db.syncStatus?.online).toBe(true);
    await db.close();
    expect(db.syncStatus).toBeUndefined();
  });

  test('a token: the server\'s is sent; a wrong one leaves the sync offline with UNAUTHORIZED', async () => {
    const s = await server(undefined, 'sekret');
    const db = await local();
    const bad = await db.sync(s.url, { token: 'wrong' });
    await until('the error to show', () => bad.status.error?.code === 'UNAUTHORIZED');
    expect(bad.status.online).toBe(false);
    await bad.stop();
    const good = await db.sync(s.url, { token: 'sekret' });
    await db.put('ns', 'k', 1);
    await good.synced();
    expect(await s.db.get('ns', 'k')).toBe(1);
  });
});

describe('orphans', () => {
  test('a local write on top of a version from elsewhere (imported) pushes that key\'s history, so the server takes it', async () => {
    const s = await server();
    const { KoruDelta } = await import('@koru/delta');
    const other = await KoruDelta.start();
    const first = await other.put('ns', 'k', 1);
    await other.close();
    const db = await local();
    await db.importVersions([first]);
    const mine = await db.put('ns', 'k', 2);
    const sync = await db.sync(s.url);
    await sync.synced();
    expect(sync.status.error).toBeUndefined();
    expect(sync.status.pending).toBe(0);
    expect((await s.db.history('ns', 'k')).map((v) => v.versionId)).toEqual([first.versionId, mine.versionId]);
  });
});

describe('feed', () => {
  test('a lagged feed loses nothing: the change it skipped is pulled, and the subscription is replaced', async () => {
    const s = await server();
    const subscribe = s.db.subscribe.bind(s.db);
    let subscriptions = 0;
    // Each subscription the server makes lags at its third change: that change is not
    // sent, a lagged event is, and the subscription ends (as the feed does when it lags).
    vi.spyOn(s.db, 'subscribe').mockImplementation((spec, handler) => {
      subscriptions++;
      let n = 0;
      const sub = subscribe(spec, (e) => {
        if (e.type === 'change' && ++n > 2) {
          sub.unsubscribe();
          return handler({ type: 'lagged', seq: e.seq - 1, behind: 1 });
        }
        return handler(e);
      });
      return sub;
    });
    const db = await local();
    const sync = await db.sync(s.url);
    await sync.synced();
    for (let i = 0; i < 8; i++) {
      await s.db.put('ns', `k${i}`, i);
      await until(`server write ${i} to arrive`, () => db.storage.contains('ns', `k${i}`));
    }
    expect(subscriptions).toBeGreaterThanOrEqual(3);
  });
});
