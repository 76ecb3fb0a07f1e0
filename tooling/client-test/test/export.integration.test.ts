// KoruClient.exportVersions against an in-process server (GET /v1/export): the same
// versions as KoruDelta.exportVersions in the server's process, `previousCut` included,
// so an import of them verifies; deep-frozen; one namespace; argument and server errors
// as KoruErrors; leaving the loop ends the transfer; a cut-off export and a client closed
// meanwhile are errors, never a short export taken for a whole one.
import { afterEach, describe, expect, test } from 'vitest';
import { ErrorCodes, InvalidNamespaceError, KoruClient, KoruError, type Version } from '@koru/client';
import { KoruDelta } from '@koru/delta';
import { startServer, type KoruServer, type ServerOptions } from '@koru/server';
import { tempDir } from '@koru/vitest-preset/helpers';
import { rejectsWith, waitFor } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function database(): Promise<KoruDelta> {
  const t = tempDir('koru-client-export-');
  const db = await KoruDelta.start({ path: t.dir });
  cleanups.push(t.cleanup, () => db.close());
  return db;
}

async function serve(db: KoruDelta, options: ServerOptions = {}): Promise<KoruServer> {
  const s = await startServer({ db, port: 0, log: 'silent', ...options });
  cleanups.push(() => s.close());
  return s;
}

async function connect(s: KoruServer, token?: string): Promise<KoruClient> {
  const c = await KoruClient.connect(s.url, token !== undefined ? { token } : {});
  cleanups.push(() => c.close());
  return c;
}

/** Every version `versions` gives. */
async function all(versions: AsyncIterable<Version>): Promise<Version[]> {
  const out: Version[] = [];
  for await (const v of versions) out.push(v);
  return out;
}

/** The rejection of the first step of `versions`. */
async function firstStepFails(versions: AsyncGenerator<Version>, code: string): Promise<KoruError> {
  return rejectsWith(versions.next(), code);
}

/** Counts the versions the server reads from its database's store for exports, and the reads that ended. */
function counting(db: KoruDelta): { pulled: number; ended: number } {
  const stats = { pulled: 0, ended: 0 };
  const storage = db.storage;
  const original = storage.committed.bind(storage);
  storage.committed = function* (fromSeq?: number, toSeq?: number): Generator<Version> {
    try {
      for (const v of original(fromSeq, toSeq)) {
        stats.pulled++;
        yield v;
      }
    } finally {
      stats.ended++;
    }
  };
  return stats;
}

/** 3,000 versions of 8 KiB: more than the sockets between client and server hold. */
async function largeDatabase(): Promise<KoruDelta> {
  const db = await database();
  const pad = 'x'.repeat(8 * 1024);
  for (let i = 0; i < 3_000; i += 500) await db.putMany(Array.from({ length: 500 }, (_, j) => ({ namespace: 'big', key: `k${i + j}`, value: { n: i + j, pad } })));
  return db;
}

describe('KoruClient.exportVersions', () => {
  test('gives what exportVersions gives in process, previousCut included, frozen; an import of it verifies', async () => {
    const db = await database();
    await db.setRetention('kept', { lastVersions: 2 });
    const kept: Version[] = [];
    for (let i = 0; i < 5; i++) {
      kept.push(await db.put('kept', 'a', { i }));
      // Each version in a millisecond of its own: a time names one version.
      await new Promise((r) => setTimeout(r, 3));
    }
    await db.put('p', 'ann', { secret: 1 });
    await db.put('p', 'ann', { secret: 2 });
    await db.createIndex('kept', 'i');
    await db.compact();
    await db.purge('p', 'ann');
    const s = await serve(db, { token: 'tok' });
    const c = await connect(s, 'tok');

    const remote = await all(c.exportVersions());
    expect(remote).toEqual(JSON.parse(JSON.stringify(await all(db.exportVersions()))));
    expect(remote.find((v) => v.namespace === 'kept')).toMatchObject({ previousVersion: kept[2]!.versionId, previousCut: { hlc: kept[2]!.hlc, node: kept[2]!.node, purged: false } });
    expect(remote.find((v) => v.namespace === 'p')).toHaveProperty(['previousCut', 'purged'], true);
    expect(remote.every((v) => Object.isFrozen(v) && (v.value === null || Object.isFrozen(v.value)))).toBe(true);
    expect((await all(c.exportVersions({ namespace: 'kept' }))).map((v) => v.versionId)).toEqual([kept[3]!.versionId, kept[4]!.versionId]);
    expect(await all(c.exportVersions({ namespace: 'nothing' }))).toEqual([]);

    const copy = await KoruDelta.start();
    cleanups.push(() => copy.close());
    expect(await copy.importVersions(remote)).toBe(remote.length);
    expect((await copy.verify()).problems).toEqual([]);
    expect(await copy.history('kept', 'a')).toEqual(await db.history('kept', 'a'));
    await expect(copy.getAt('kept', 'a', kept[1]!.timestamp)).rejects.toMatchObject({ code: ErrorCodes.HISTORY_PRUNED });
  });

  test('refuses bad options, and a namespace the server refuses, at the first step', async () => {
    const s = await serve(await database());
    const c = await connect(s);
    await firstStepFails(c.exportVersions({ ns: 'a' } as never), ErrorCodes.INVALID_ARGUMENT);
    await firstStepFails(c.exportVersions({ namespace: 5 } as never), ErrorCodes.INVALID_ARGUMENT);
    const e = await firstStepFails(c.exportVersions({ namespace: '_koru' }), ErrorCodes.INVALID_NAMESPACE);
    expect(e).toBeInstanceOf(InvalidNamespaceError);
    await c.close();
    await firstStepFails(c.exportVersions(), ErrorCodes.CLOSED);
  });

  test('leaving the loop early ends the transfer on the server', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    const c = await connect(await serve(db));
    let n = 0;
    for await (const v of c.exportVersions()) {
      expect(v.namespace).toBe('big');
      if (++n === 10) break;
    }
    await waitFor(() => stats.ended === 1, 10_000, 'the server to end its read');
    expect(stats.pulled).toBeLessThan(3_000);
  });

  test('an export the server cuts off is IO_ERROR after the versions that came whole', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    const c = await connect(await serve(db, { streamIdleTimeoutMs: 300 }));
    const versions = c.exportVersions();
    expect((await versions.next()).done).toBe(false);
    // Stop reading past the server's idle limit: it lets go of the export.
    await waitFor(() => stats.ended === 1, 10_000, 'the server to cut the export off');
    let n = 1;
    const e = await (async () => {
      try {
        for (let r = await versions.next(); r.done !== true; r = await versions.next()) n++;
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(KoruError);
    expect((e as KoruError).code).toBe(ErrorCodes.IO_ERROR);
    expect((e as KoruError).message).toMatch(/cut off after \d+ versions/);
    expect(n).toBeLessThan(3_000);
  });

  test('closing the client ends an export being read with CLOSED', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    const c = await connect(await serve(db));
    const versions = c.exportVersions();
    expect((await versions.next()).done).toBe(false);
    await c.close();
    const e = await (async () => {
      try {
        for (let r = await versions.next(); r.done !== true; r = await versions.next());
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect((e as KoruError).code).toBe(ErrorCodes.CLOSED);
    await waitFor(() => stats.ended === 1, 10_000, 'the server to end its read');
  });
});
