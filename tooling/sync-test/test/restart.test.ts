// Persisted cursors: a durable local database closed and reopened resumes where it was
// (nothing pulled again from 0, nothing pushed again); another server node starts over.
import { cpSync } from 'node:fs';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { KoruServer } from '@koru/server';
import { allVersionIds, cleanupAll, freshDir, local, server, until } from './support.js';

afterEach(cleanupAll);

/** Records the `since` of every syncPull the server answers (its store's committed(since + 1, …) calls). */
function pullsAsked(s: KoruServer): number[] {
  const asked: number[] = [];
  const storage = s.db.storage;
  const committed = storage.committed.bind(storage);
  vi.spyOn(storage, 'committed').mockImplementation((from?: number, to?: number) => {
    asked.push((from ?? 1) - 1);
    return committed(from, to);
  });
  return asked;
}

describe('restart', () => {
  test('a reopened durable database resumes from its persisted cursors', async () => {
    const s = await server();
    const dir = freshDir();
    let db = await local(dir);
    let sync = await db.sync(s.url);
    for (let i = 0; i < 30; i++) await s.db.put('ns', `s${i}`, i);
    for (let i = 0; i < 10; i++) await db.put('ns', `l${i}`, i);
    await sync.synced();
    const { lastSyncedSeq, lastPushedSeq } = sync.status;
    expect(lastSyncedSeq).toBe(s.db.seq);
    await db.close();

    await s.db.put('ns', 'while-closed', 1);
    const serverSeqBefore = s.db.seq;
    const applied: number[] = [];
    const unhook = s.db.storage.onApply((_c, all) => applied.push(all.length));
    const asked = pullsAsked(s);
    db = await local(dir);
    sync = await db.sync(s.url);
    // Known before the server's welcome: the cursors of the server last synced with at this URL.
    expect(sync.status.lastSyncedSeq).toBe(lastSyncedSeq);
    expect(sync.status.lastPushedSeq).toBe(lastPushedSeq);
    await db.put('ns', 'after-restart', 1);
    await sync.synced();
    unhook();
    // Pulled from where it was, not from 0.
    expect(asked.length).toBeGreaterThan(0);
    expect(Math.min(...asked)).toBe(lastSyncedSeq);
    expect(sync.status.lastSyncedSeq).toBe(s.db.seq);
    expect(sync.status.lastPushedSeq).toBeGreaterThan(lastPushedSeq);
    // Pushed only the new write: the server applied one version (and had everything else).
    expect(applied.reduce((x, y) => x + y, 0)).toBe(1);
    expect(s.db.seq).toBe(serverSeqBefore + 1);
    expect(await db.get('ns', 'while-closed')).toBe(1);
    expect(allVersionIds(db)).toEqual(allVersionIds(s.db));
  });

  test('a cursor from another server node is not used: the sync with a new server starts over from 0', async () => {
    const first = await server();
    const dir = freshDir();
    let db = await local(dir);
    let sync = await db.sync(first.url);
    for (let i = 0; i < 5; i++) await first.db.put('ns', `f${i}`, i);
    await db.put('ns', 'mine', 1);
    await sync.synced();
    expect(sync.status.lastSyncedSeq).toBeGreaterThan(0);
    await db.close();

    const second = await server();
    for (let i = 0; i < 3; i++) await second.db.put('ns', `g${i}`, i);
    const asked = pullsAsked(second);
    db = await local(dir);
    sync = await db.sync(second.url);
    await sync.synced();
    expect(Math.min(...asked)).toBe(0);
    // Our own writes went to the new server (only those: the first server's versions are
    // its to replicate); the new server's came here.
    expect(await second.db.get('ns', 'mine')).toBe(1);
    expect(await second.db.contains('ns', 'f4')).toBe(false);
    expect(await db.get('ns', 'g2')).toBe(2);
    expect(sync.status.pending).toBe(0);

    // Back to the first server: its own cursors, kept per server node, are used again.
    await sync.stop();
    const askedFirst = pullsAsked(first);
    const back = await db.sync(first.url);
    await back.synced();
    expect(Math.min(...askedFirst)).toBeGreaterThan(0);
  });

  test('a server restored from an older copy (same node, fewer changes): both ways start over, nothing of ours is lost there', async () => {
    const dir = freshDir();
    const backup = freshDir();
    let s = await server(dir);
    await s.db.put('ns', 'early', 1);
    const node = s.db.nodeId;
    await s.close();
    cpSync(dir, backup, { recursive: true });
    s = await server(dir);
    for (let i = 0; i < 5; i++) await s.db.put('ns', `late${i}`, i);
    const db = await local();
    let sync = await db.sync(s.url);
    await db.put('ns', 'mine', 1);
    await sync.synced();
    expect(sync.status.lastSyncedSeq).toBeGreaterThan(2);
    await sync.stop();
    await s.close();

    const restored = await server(backup);
    expect(restored.db.nodeId).toBe(node);
    const asked = pullsAsked(restored);
    sync = await db.sync(restored.url);
    await sync.synced();
    expect(asked).toContain(0);
    expect(await restored.db.get('ns', 'mine')).toBe(1);
    expect(await db.get('ns', 'late4')).toBe(4);
    // Our push's echo comes back through the feed.
    await until('the pull to catch up with the server', () => sync.status.lastSyncedSeq === restored.db.seq);
  });
});
