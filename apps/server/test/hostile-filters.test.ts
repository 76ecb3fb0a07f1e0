// Hostile filters against a real server process: a catastrophic regex (exponential under a
// backtracking engine: the old RegExp never returned on 40 a's and a '!', stalling the one
// event loop) in a query, an auto-refresh view and a subscription; a filter nested 10,000
// deep (a 500 from a stack overflow before) and other filters past the bounds of one filter.
// No time thresholds: that every call completes is the proof.
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, Session, spawnServer } from './support.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server process on `dir` (port 0), killed at the end of the test if still running. */
async function start(dir: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const { child, url } = await spawnServer(['-d', dir]);
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    return exited(child);
  });
  return {
    url,
    stop: () => {
      child.kill('SIGTERM');
      return exited(child);
    },
  };
}

/** A JSON text written by hand (JSON.stringify overflows the stack on 10,000 levels). */
class Raw {
  constructor(readonly text: string) {}
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const text = body instanceof Raw ? body.text : JSON.stringify(body);
  const res = await fetch(url + path, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: text }),
  });
  return { status: res.status, body: await res.json() };
}

const EVIL = `${'a'.repeat(40)}!`;
const FILTER = { s: { $matches: '^(a+)+$' } };

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('a catastrophic regex', () => {
  it('answers in a query while /healthz answers; in a view and a subscription, writes complete, before and after a restart', async () => {
    const t = tempDir('koru-hostile-');
    cleanups.push(t.cleanup);
    let server = await start(t.dir);
    expect((await call(server.url, 'PUT', '/v1/kv/h/evil', { s: EVIL })).status).toBe(200);
    expect((await call(server.url, 'PUT', '/v1/kv/h/good', { s: 'aaaa' })).status).toBe(200);

    // The query and a liveness probe at once: both answer, and the query is right.
    const [query, health] = await Promise.all([
      call(server.url, 'POST', '/v1/query/h', { filter: FILTER }),
      call(server.url, 'GET', '/healthz'),
    ]);
    expect(query.status).toBe(200);
    expect(query.body.rows.map((r: { key: string }) => r.key)).toEqual(['good']);
    expect(health).toEqual({ status: 200, body: { ok: true } });

    // The same filter in an auto-refresh view and in a subscription: writes to the namespace complete.
    const view = await call(server.url, 'POST', '/v1/views', { name: 'hostile', namespace: 'h', query: { filter: FILTER }, autoRefresh: true });
    expect(view.status).toBe(200);
    const { session } = await Session.open(server.url);
    cleanups.push(() => session.close());
    await session.call('subscribe', { namespace: 'h', filter: FILTER });
    for (const [key, s] of [['evil2', EVIL], ['good2', 'aaa'], ['evil3', `${'a'.repeat(10_000)}!`]] as const) {
      expect((await call(server.url, 'PUT', `/v1/kv/h/${key}`, { s })).status).toBe(200);
    }
    await waitFor(() => session.events.length >= 1);
    expect(session.events.map((e: any) => e.key)).toEqual(['good2']);
    const seen = await call(server.url, 'GET', '/v1/views/hostile');
    expect(seen.body.rows.map((r: { key: string }) => r.key).sort()).toEqual(['good', 'good2']);
    session.close();

    // After a restart on the same directory the view is back, and writes still complete.
    expect(await server.stop()).toBe(0);
    server = await start(t.dir);
    const { session: again } = await Session.open(server.url);
    cleanups.push(() => again.close());
    await again.call('subscribe', { namespace: 'h', filter: FILTER });
    for (const [key, s] of [['evil4', EVIL], ['good3', 'a']] as const) {
      expect((await call(server.url, 'PUT', `/v1/kv/h/${key}`, { s })).status).toBe(200);
    }
    await waitFor(() => again.events.length >= 1);
    expect(again.events.map((e: any) => e.key)).toEqual(['good3']);
    const after = await call(server.url, 'GET', '/v1/views/hostile');
    expect(after.body.rows.map((r: { key: string }) => r.key).sort()).toEqual(['good', 'good2', 'good3']);
    expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('filters past the bounds of one filter', () => {
  /** `{ $not: ... { a: 1 } }`, `n` deep, as JSON text. */
  function nots(n: number): string {
    return `${'{"$not":'.repeat(n)}{"a":1}${'}'.repeat(n)}`;
  }

  it('are 400 INVALID_QUERY with the limit over HTTP (10,000 deep, 5,000 deep, too many values, a refused regex feature), never 500', async () => {
    const t = tempDir('koru-bounds-');
    cleanups.push(t.cleanup);
    const server = await start(t.dir);
    expect((await call(server.url, 'PUT', '/v1/kv/h/x', { a: 1 })).status).toBe(200);
    const cases: Array<[string, number | undefined, RegExp]> = [
      [nots(10_000), 64, /at most 64 levels deep/],
      [nots(5_000), 64, /at most 64 levels deep/],
      [JSON.stringify({ a: { $in: Array.from({ length: 10_001 }, (_, i) => i) } }), 10_000, /at most 10000 values/],
      [JSON.stringify({ $or: Array.from({ length: 1_000 }, (_, i) => ({ a: i })) }), 1_000, /at most 1000 conditions/],
      [JSON.stringify({ $or: Array.from({ length: 17 }, (_, i) => ({ s: { $regex: `^${i}` } })) }), 16, /at most 16 \$regex conditions/],
      [JSON.stringify({ s: { $regex: '(a)\\1' } }), undefined, /backreference/],
    ];
    for (const [filter, limit, message] of cases) {
      for (const [path, body] of [
        ['/v1/query/h', `{"filter":${filter}}`],
        ['/v1/aggregate/h', `{"aggregation":{"op":"count"},"filter":${filter}}`],
        ['/v1/views', `{"name":"v","namespace":"h","query":{"filter":${filter}}}`],
      ] as const) {
        const r = await call(server.url, 'POST', path, new Raw(body));
        expect(r.status, path).toBe(400);
        expect(r.body.error.code).toBe('INVALID_QUERY');
        expect(r.body.error.message).toMatch(message);
        if (limit !== undefined) expect(r.body.error.details.limit).toBe(limit);
      }
    }
    // At the bounds, the same filters answer.
    expect((await call(server.url, 'POST', '/v1/query/h', new Raw(`{"filter":${nots(63)}}`))).body.total).toBe(0);
    expect((await call(server.url, 'POST', '/v1/query/h', { filter: { a: { $in: Array.from({ length: 10_000 }, (_, i) => i) } } })).body.total).toBe(1);
    expect((await call(server.url, 'GET', '/v1/views')).body).toEqual([]);
  });
});
