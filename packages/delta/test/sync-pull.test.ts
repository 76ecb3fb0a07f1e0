// The pull side of sync without a server: versions whose predecessor has not arrived wait
// (and hold the saved cursor back), and go in once it does; cursors are local state.
import { KoruDelta, type Version } from '@koru/delta';
import { describe, expect, it } from 'vitest';
import { loadCursors, saveCursors } from '../src/sync/cursors.js';
import { PullOrphans } from '../src/sync/pull.js';
import { countOwn, isOwn } from '../src/sync/push.js';

const at = (v: Version, seq: number) => ({ ...v, seq });

describe('sync pull orphans', () => {
  it('a version pulled before its predecessor waits, then goes in with it; resumeBefore holds the cursor before it', async () => {
    const src = await KoruDelta.start();
    const v1 = await src.put('ns', 'k', 1);
    const v2 = await src.put('ns', 'k', 2);
    const v3 = await src.put('ns', 'other', 3);
    const db = await KoruDelta.start();
    const orphans = new PullOrphans();
    await orphans.apply(db.storage, [at(v2, 12), at(v3, 13)]);
    expect(orphans.size).toBe(1);
    expect(orphans.resumeBefore()).toBe(11);
    expect(await db.get('ns', 'other')).toBe(3);
    expect(await db.contains('ns', 'k')).toBe(false);
    await orphans.apply(db.storage, [at(v1, 20)]);
    expect(orphans.size).toBe(0);
    expect(orphans.resumeBefore()).toBeUndefined();
    expect((await db.history('ns', 'k')).map((v) => v.versionId)).toEqual([v1.versionId, v2.versionId]);
    // Pulled again (after a restart): duplicates, nothing waits.
    await orphans.apply(db.storage, [at(v1, 20), at(v2, 12)]);
    expect(orphans.size).toBe(0);
    expect(db.seq).toBe(3);
    await src.close();
    await db.close();
  });

  it('cursors are kept per server node and namespace selection, and a push cursor past the local seq starts over', async () => {
    const db = await KoruDelta.start();
    await db.put('ns', 'k', 1);
    saveCursors(db.storage, 'server-a', undefined, { pull: 40, push: 1 });
    saveCursors(db.storage, 'server-b', new Set(['y', 'x']), { pull: 7, push: 1 });
    expect(loadCursors(db.storage, 'server-a', undefined)).toEqual({ pull: 40, push: 1 });
    expect(loadCursors(db.storage, 'server-b', new Set(['x', 'y']))).toEqual({ pull: 7, push: 1 });
    expect(loadCursors(db.storage, 'server-b', new Set(['x']))).toEqual({ pull: 0, push: 0 });
    expect(loadCursors(db.storage, 'server-c', undefined)).toEqual({ pull: 0, push: 0 });
    saveCursors(db.storage, 'server-a', undefined, { pull: 40, push: 5 });
    expect(loadCursors(db.storage, 'server-a', undefined)).toEqual({ pull: 40, push: 0 });
    // Local state, not versions.
    expect(db.seq).toBe(1);
    await db.close();
  });

  it('own versions: written here, in the namespaces synced, never _koru', async () => {
    const db = await KoruDelta.start();
    await db.put('a', 'k', 1);
    await db.put('b', 'k', 1);
    await db.createIndex('a', 'x');
    const other = await KoruDelta.start();
    await db.storage.applyReplicated([await other.put('a', 'z', 1)]);
    expect(countOwn(db.storage, 0, db.seq, db.nodeId, undefined)).toBe(2);
    expect(countOwn(db.storage, 0, db.seq, db.nodeId, new Set(['b']))).toBe(1);
    expect(countOwn(db.storage, 1, db.seq, db.nodeId, undefined)).toBe(1);
    const system = [...db.storage.committed()].filter((v) => v.namespace === '_koru');
    expect(system.length).toBeGreaterThan(0);
    for (const v of system) expect(isOwn(v, db.nodeId, undefined)).toBe(false);
    await other.close();
    await db.close();
  });
});
