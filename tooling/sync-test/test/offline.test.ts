// Offline and reconnect: edits made on two local databases and on the server while the
// links are cut converge once they are back (same heads, same state root, every version
// everywhere, same ids); a link cut in the middle of a push loses and duplicates nothing.
import { afterEach, describe, expect, test } from 'vitest';
import { allVersionIds, cleanupAll, heads, local, Proxy, server, until } from './support.js';

afterEach(cleanupAll);

describe('offline', () => {
  test('offline edits on two locals and the server, the same keys too, converge on reconnect', async () => {
    const s = await server();
    const pa = await Proxy.start(s.port);
    const pb = await Proxy.start(s.port);
    const a = await local();
    const b = await local();
    const sa = await a.sync(pa.url);
    const sb = await b.sync(pb.url);
    await a.put('doc', 'shared', { v: 'a0' });
    await Promise.all([sa.synced(), sb.synced()]);
    await until('b to hold the shared doc', () => b.storage.contains('doc', 'shared'));

    pa.cut();
    pb.cut();
    await until('both offline', () => !sa.status.online && !sb.status.online);
    for (let i = 0; i < 20; i++) {
      await a.put('doc', 'shared', { v: `a${i + 1}` });
      await b.put('doc', 'shared', { v: `b${i + 1}` });
      await s.db.put('doc', 'shared', { v: `s${i + 1}` });
      await a.put('doc', `a-only-${i % 3}`, i);
      await b.put('doc', `b-only-${i % 3}`, i);
      await s.db.put('doc', `s-only-${i % 3}`, i);
    }
    await b.delete('doc', 'b-only-0');
    expect(sa.status.pending).toBe(40);
    expect(sb.status.pending).toBe(41);

    pa.restore();
    pb.restore();
    await until('both online', () => sa.status.online && sb.status.online);
    await Promise.all([sa.synced(), sb.synced()]);
    // b may have pulled before a's push arrived: once more, now that the server holds all.
    await Promise.all([sa.synced(), sb.synced()]);
    expect(sa.status.pending).toBe(0);
    expect(sb.status.pending).toBe(0);

    const expected = allVersionIds(s.db);
    expect(expected.length).toBe(1 + 20 * 6 + 1);
    expect(allVersionIds(a)).toEqual(expected);
    expect(allVersionIds(b)).toEqual(expected);
    expect(heads(a)).toEqual(heads(s.db));
    expect(heads(b)).toEqual(heads(s.db));
    expect(a.storage.stateRoot()).toBe(s.db.storage.stateRoot());
    expect(b.storage.stateRoot()).toBe(s.db.storage.stateRoot());
    expect(await a.get('doc', 'shared')).toEqual(await s.db.get('doc', 'shared'));
    expect(await b.contains('doc', 'b-only-0')).toBe(false);
    expect(await a.contains('doc', 'b-only-0')).toBe(false);
  });

  test('a link cut in the middle of pushing loses nothing and stores nothing twice', async () => {
    const s = await server();
    const proxy = await Proxy.start(s.port);
    const db = await local();
    // Enough to take several push batches (500 versions each), with some bulk to each.
    const items = Array.from({ length: 2_000 }, (_, i) => ({ namespace: 'bulk', key: `k${i % 300}`, value: { i, pad: 'x'.repeat(200) } }));
    for (let i = 0; i < items.length; i += 100) await db.putMany(items.slice(i, i + 100));
    const sync = await db.sync(proxy.url);
    const online: boolean[] = [sync.status.online];
    sync.onStatus((st) => {
      if (online.at(-1) !== st.online) online.push(st.online);
    });
    // Cut once the first bytes of the push went out, then again a little later.
    await until('the push to start', () => proxy.upBytes > 50_000);
    proxy.cut();
    await new Promise((r) => setTimeout(r, 50));
    proxy.restore();
    await until('more of the push', () => sync.status.lastPushedSeq > 0 || proxy.upBytes > 400_000);
    proxy.cut();
    await new Promise((r) => setTimeout(r, 50));
    proxy.restore();
    await sync.synced();
    // The links were cut while the sync was up (not before or after it all).
    expect(online.join(' ')).toMatch(/true false true/);
    expect(sync.status.pending).toBe(0);
    expect(allVersionIds(s.db)).toEqual(allVersionIds(db));
    // Each version once: as many changes on the server as versions.
    expect(s.db.seq).toBe(2_000);
    expect(s.db.storage.stateRoot()).toBe(db.storage.stateRoot());
  });

  test('status: online flips on disconnect and reconnect; pending counts offline writes down to 0', async () => {
    const s = await server();
    const proxy = await Proxy.start(s.port);
    const db = await local();
    const sync = await db.sync(proxy.url);
    await until('online', () => sync.status.online);
    const seen: boolean[] = [];
    sync.onStatus((st) => {
      if (seen.at(-1) !== st.online) seen.push(st.online);
    });
    proxy.cut();
    await until('offline', () => !sync.status.online);
    for (let i = 0; i < 7; i++) await db.put('ns', `k${i}`, i);
    expect(sync.status.pending).toBe(7);
    proxy.restore();
    await until('online again', () => sync.status.online);
    await sync.synced();
    expect(sync.status.pending).toBe(0);
    expect(seen).toEqual([false, true]);
    expect(await s.db.get('ns', 'k6')).toBe(6);
  });

  test('a sync started while the server is unreachable keeps trying, and catches up once it is there', async () => {
    const s = await server();
    const proxy = await Proxy.start(s.port);
    proxy.cut();
    const db = await local();
    await s.db.put('ns', 'from-server', 1);
    const sync = await db.sync(proxy.url);
    await db.put('ns', 'from-local', 2);
    await until('the connect failure to show', () => sync.status.error?.code === 'IO_ERROR');
    // Never connected: the local write is pending.
    expect(sync.status).toMatchObject({ online: false, pending: 1 });
    proxy.restore();
    await sync.synced();
    expect(await db.get('ns', 'from-server')).toBe(1);
    expect(await s.db.get('ns', 'from-local')).toBe(2);
    expect(sync.status.error).toBeUndefined();
  });

  test('closing a database whose sync cannot connect stops the sync; synced() then rejects with CLOSED', async () => {
    const proxy = await Proxy.start(1);
    proxy.cut();
    const db = await local();
    const sync = await db.sync(proxy.url);
    const waiting = sync.synced();
    await until('a failed attempt', () => sync.status.error !== undefined);
    await db.close();
    await expect(waiting).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(sync.synced()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
