// GET /v1/export against a real server on a real port: the JSON lines are what
// exportVersions gives in process (commit order, history, the database's own records,
// `previousCut` where retention or a purge cut a key), behind the token and the Origin
// check like every route; streamed with backpressure: a client that reads nothing holds a
// few chunks, not the database, others are served meanwhile, it is cut off once idle, a
// client that leaves ends the read, and a graceful stop does not wait for an export.
import { request, type IncomingMessage } from 'node:http';
import { KoruDelta, type Version } from '@koru/delta';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type KoruServer, type ServerOptions } from '../src/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A database in a fresh directory, closed after the test. */
async function database(): Promise<KoruDelta> {
  const t = tempDir('koru-export-');
  const db = await KoruDelta.start({ path: t.dir });
  cleanups.push(t.cleanup, () => db.close());
  return db;
}

/** A server over `db` (left open on close). */
async function serve(db: KoruDelta, options: ServerOptions = {}): Promise<KoruServer> {
  const s = await startServer({ db, port: 0, log: 'silent', ...options });
  cleanups.push(() => s.close());
  return s;
}

/** What the database's own export gives, as JSON lines carry it. */
async function localExport(db: KoruDelta, namespace?: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const v of db.exportVersions(namespace !== undefined ? { namespace } : {})) out.push(JSON.parse(JSON.stringify(v)));
  return out;
}

/** Counts the versions the server reads from `db`'s store for exports, and the reads that ended. */
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

/** Waits until `cond()` holds (at most 20 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A GET whose answer is not read: resolves with the response, paused, once its headers
 * came; `closed` settles once it is resumed and its socket closed.
 */
function stalledGet(url: string): Promise<{ res: IncomingMessage; closed: Promise<{ complete: boolean }> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.pause();
      // A paused answer reports nothing: its socket tells when the server let go.
      const closed = new Promise<{ complete: boolean }>((r) => res.socket.once('close', () => r({ complete: res.complete })));
      resolve({ res, closed });
    });
    req.once('error', reject);
    req.end();
  });
}

/** A database with a key cut by retention, a purged key, an index and a key in another namespace. */
async function prunedDatabase(): Promise<KoruDelta> {
  const db = await database();
  await db.setRetention('kept', { lastVersions: 2 });
  for (let i = 0; i < 5; i++) await db.put('kept', 'a', { i });
  await db.put('p', 'ann', { secret: 1 });
  await db.put('p', 'ann', { secret: 2 });
  await db.put('other', 'x', [1, 2]);
  await db.createIndex('kept', 'i');
  await db.compact();
  await db.purge('p', 'ann');
  return db;
}

describe('GET /v1/export', () => {
  it('answers every version as JSON lines in commit order, previousCut included, as exportVersions does; of one namespace', async () => {
    const db = await prunedDatabase();
    const s = await serve(db);
    const res = await fetch(`${s.url}/v1/export`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const text = await res.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { namespace: string; previousCut?: unknown });
    expect(lines).toEqual(await localExport(db));
    expect(lines.filter((v) => v.previousCut !== undefined).map((v) => [v.namespace, v.previousCut])).toEqual([
      ['kept', expect.objectContaining({ purged: false })],
      ['p', expect.objectContaining({ purged: true })],
    ]);
    expect(lines.some((v) => v.namespace === '_koru')).toBe(true);
    const kept = await (await fetch(`${s.url}/v1/export?namespace=kept`)).text();
    expect(kept.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(await localExport(db, 'kept'));
    // An empty namespace is an empty answer; a copy imported from the lines verifies.
    expect(await (await fetch(`${s.url}/v1/export?namespace=none`)).text()).toBe('');
    const copy = await KoruDelta.start();
    cleanups.push(() => copy.close());
    expect(await copy.importVersions(lines as never)).toBe(lines.length);
    expect((await copy.verify()).problems).toEqual([]);
  });

  it('refuses a bad namespace or an unknown parameter with 400, before any line', async () => {
    const s = await serve(await database());
    for (const [query, code] of [['?namespace=_koru', 'INVALID_NAMESPACE'], ['?namespace=', 'INVALID_NAMESPACE'], ['?ns=a', 'INVALID_ARGUMENT']] as const) {
      const res = await fetch(`${s.url}/v1/export${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code, query).toBe(code);
    }
  });

  it('needs the token and refuses another web origin, like every route', async () => {
    const db = await database();
    await db.put('a', 'k', 1);
    const s = await serve(db, { token: 'secret' });
    expect((await fetch(`${s.url}/v1/export`)).status).toBe(401);
    expect((await fetch(`${s.url}/v1/export`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const evil = await fetch(`${s.url}/v1/export`, { headers: { authorization: 'Bearer secret', origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    expect(((await evil.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    const ok = await fetch(`${s.url}/v1/export`, { headers: { authorization: 'Bearer secret' } });
    expect(ok.status).toBe(200);
    expect((await ok.text()).trimEnd().split('\n')).toHaveLength(1);
  });

  it('answers HEAD with the headers alone, without reading the store', async () => {
    const db = await database();
    for (let i = 0; i < 5; i++) await db.put('a', `k${i}`, i);
    const stats = counting(db);
    const s = await serve(db);
    const head = await fetch(`${s.url}/v1/export`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(await head.text()).toBe('');
    expect(stats).toEqual({ pulled: 0, ended: 0 });
    expect((await fetch(`${s.url}/v1/export?namespace=_koru`, { method: 'HEAD' })).status).toBe(400);
  });
});

describe('GET /v1/export streams', () => {
  /** 6,000 versions of 8 KiB values: about 50 MB of lines, more than sockets buffer. */
  async function largeDatabase(): Promise<KoruDelta> {
    const db = await database();
    const pad = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 6_000; i += 500) {
      await db.putMany(Array.from({ length: 500 }, (_, j) => ({ namespace: 'big', key: `k${i + j}`, value: { n: i + j, pad } })));
    }
    await db.put('small', 'one', 1);
    return db;
  }

  it('holds a client that reads nothing to a few chunks, serves others meanwhile, then cuts it off once idle', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    const s = await serve(db, { streamIdleTimeoutMs: 1_500 });
    const { res, closed } = await stalledGet(`${s.url}/v1/export`);
    expect(res.statusCode).toBe(200);
    // Let the server fill what the sockets hold, then look: it stopped reading the store.
    let seen = -1;
    await until(() => {
      const settled = stats.pulled === seen;
      seen = stats.pulled;
      return settled && seen > 0;
    }, 'the server to stop pulling');
    expect(stats.pulled).toBeLessThan(3_000);
    // Others are served while it waits (the namespace export reads all 6,001 versions).
    expect((await fetch(`${s.url}/v1/status`)).status).toBe(200);
    expect(await (await fetch(`${s.url}/v1/export?namespace=small`)).text()).toMatch(/^\{"namespace":"small".*\n$/);
    // Idle past the limit: its read of the store ended, and what it gets is cut off.
    await until(() => stats.ended === 2, 'the stalled read to end');
    expect(stats.pulled - 6_001).toBeLessThan(3_000);
    res.resume();
    expect((await closed).complete).toBe(false);
  }, 60_000);

  it('a namespace export is not cut off while the server reads past other namespaces, however long that takes', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    // Finding `small` reads the 6,000 large versions before it: far longer than 50 ms,
    // with nothing to send meanwhile. The client waits for the server, not the reverse.
    const s = await serve(db, { streamIdleTimeoutMs: 50 });
    expect(await (await fetch(`${s.url}/v1/export?namespace=small`)).text()).toMatch(/^\{"namespace":"small".*\n$/);
    expect(stats.pulled).toBe(6_001);
  }, 60_000);

  it('a client that reads slowly gets everything; one that leaves ends the read', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    const s = await serve(db, { streamIdleTimeoutMs: 5_000 });
    const res = await fetch(`${s.url}/v1/export?namespace=big`);
    const reader = res.body!.getReader();
    let bytes = 0;
    let newlines = 0;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      bytes += r.value.length;
      for (const b of r.value) if (b === 10) newlines++;
      // A slow reader: a pause now and then.
      if (newlines % 1000 < 3) await new Promise((r2) => setTimeout(r2, 5));
    }
    expect(newlines).toBe(6_000);
    expect(bytes).toBeGreaterThan(6_000 * 8 * 1024);
    expect(stats.ended).toBe(1);
    const leaving = await stalledGet(`${s.url}/v1/export`);
    await until(() => stats.pulled > 6_001, 'the second export to start');
    leaving.res.destroy();
    await until(() => stats.ended === 2, 'the abandoned read to end');
    expect(stats.pulled).toBeLessThan(12_001);
  }, 60_000);

  it('reads the store in slices: a namespace export that skips most versions lets others be served meanwhile', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    const s = await serve(db);
    const order: string[] = [];
    // `small` has one version, committed last: finding it reads the whole store.
    const exported = fetch(`${s.url}/v1/export?namespace=small`).then(async (r) => {
      const text = await r.text();
      order.push('export');
      return text;
    });
    await until(() => stats.pulled > 0, 'the export to start reading');
    const status = await fetch(`${s.url}/v1/status`);
    order.push('status');
    expect(status.status).toBe(200);
    expect((await exported).trimEnd().split('\n')).toHaveLength(1);
    expect(order).toEqual(['status', 'export']);
    expect(stats).toEqual({ pulled: 6_001, ended: 1 });
  }, 60_000);

  it('a graceful stop cuts off an export still running instead of waiting for it', async () => {
    const db = await largeDatabase();
    const stats = counting(db);
    const s = await startServer({ db, port: 0, log: 'silent', streamIdleTimeoutMs: 600_000 });
    const { res, closed } = await stalledGet(`${s.url}/v1/export`);
    await until(() => stats.pulled > 0, 'the export to start');
    await s.close();
    res.resume();
    expect((await closed).complete).toBe(false);
    await until(() => stats.ended === 1, 'the read to end');
  }, 60_000);
});
