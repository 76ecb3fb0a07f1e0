// The REST API against a real server on a real port (in-process, fresh data directory).
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { connect } from 'node:net';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_FILE, startServer, type KoruServer, type ServerOptions } from '../src/index.js';
import { startTestServer } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = (options: ServerOptions = {}): Promise<KoruServer> => startTestServer(cleanups, 'koru-srv-', options);

type Json = Record<string, unknown>;
async function call(s: KoruServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(s.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text, headers: res.headers };
}

describe('REST', () => {
  it('writes, reads, time-travels, diffs and deletes with ETags and compare-and-set', async () => {
    const s = await server();
    const v1 = await call(s, 'PUT', '/v1/kv/users/alice', { name: 'Alice', n: 1 });
    expect(v1.status).toBe(200);
    expect(v1.body).toMatchObject({ namespace: 'users', key: 'alice', previousVersion: null, deleted: false });
    expect(v1.body.value).toBeUndefined();
    expect(v1.headers.get('etag')).toBe(`"${v1.body.versionId}"`);
    await new Promise((r) => setTimeout(r, 5));
    const v2 = await call(s, 'PUT', '/v1/kv/users/alice', { name: 'Alice', n: 2 }, { 'if-match': `"${v1.body.versionId}"` });
    expect(v2.status).toBe(200);
    const stale = await call(s, 'PUT', '/v1/kv/users/alice', { n: 3 }, { 'if-match': `"${v1.body.versionId}"` });
    expect(stale.status).toBe(412);
    expect(stale.body.error).toMatchObject({ code: 'VERSION_CONFLICT' });
    expect((await call(s, 'PUT', '/v1/kv/users/alice', 1, { 'if-none-match': '*' })).status).toBe(412);
    expect((await call(s, 'PUT', '/v1/kv/users/new', 1, { 'if-none-match': '*' })).status).toBe(200);

    const got = await call(s, 'GET', '/v1/kv/users/alice');
    expect(got.body).toEqual({ name: 'Alice', n: 2 });
    expect(got.headers.get('etag')).toBe(`"${v2.body.versionId}"`);
    expect((await call(s, 'GET', `/v1/kv/users/alice?at=${encodeURIComponent(v1.body.timestamp)}`)).body).toEqual({ name: 'Alice', n: 1 });
    expect((await call(s, 'GET', '/v1/kv/users/alice/versions/current')).body).toMatchObject({ value: { n: 2 }, versionId: v2.body.versionId });
    const history = await call(s, 'GET', '/v1/kv/users/alice/history');
    expect(history.body.map((v: Json) => v.versionId)).toEqual([v1.body.versionId, v2.body.versionId]);
    expect((await call(s, 'GET', '/v1/kv/users/alice/history?limit=1')).body).toHaveLength(1);
    expect((await call(s, 'GET', '/v1/kv/users/alice/diff')).body.changes).toEqual([{ kind: 'changed', path: '/n', before: 1, after: 2 }]);
    expect((await call(s, 'GET', '/v1/kv/users/alice/diff?from=0&to=1')).body.changes).toHaveLength(1);
    const del = await call(s, 'DELETE', '/v1/kv/users/alice', undefined, { 'if-match': `"${v2.body.versionId}"` });
    expect(del.body).toMatchObject({ deleted: true, previousVersion: v2.body.versionId });
    expect((await call(s, 'GET', '/v1/kv/users/alice')).status).toBe(404);
    expect((await call(s, 'GET', '/v1/kv/users/alice/history')).body).toHaveLength(3);
  });

  it('round-trips any key through URL encoding, and lists namespaces and keys', async () => {
    const s = await server();
    // ('.' and '..' alone are dot segments that URL parsers resolve away: see rawPath below.)
    const keys = ['a/b', 'x:y', '100%', 'with space', 'ünï©ødé ✓', '__proto__', '...', '?#&='];
    for (const key of keys) {
      const put = await call(s, 'PUT', `/v1/kv/docs/${encodeURIComponent(key)}`, { key });
      expect(put.status, key).toBe(200);
      expect(put.body.key).toBe(key);
      expect((await call(s, 'GET', `/v1/kv/docs/${encodeURIComponent(key)}`)).body).toEqual({ key });
    }
    expect((await call(s, 'GET', '/v1/ns/docs/keys')).body).toEqual([...keys].sort());
    expect((await call(s, 'GET', '/v1/ns')).body).toEqual(['docs']);
    // A client that sends the path as is (curl --path-as-is) can use '..' as a key too.
    const raw = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, method: 'PUT', path: '/v1/kv/docs/..', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end('"dots"');
    });
    expect(JSON.parse(raw)).toMatchObject({ key: '..' });
  });

  it("pages a namespace's keys by prefix, after and limit, and counts them", async () => {
    const s = await server();
    const keys = ['a1', 'a2', 'a3', 'b/1', 'b/2', 'ü', 'ü✓', 'z'];
    for (const key of keys) await call(s, 'PUT', `/v1/kv/docs/${encodeURIComponent(key)}`, 1);
    await call(s, 'DELETE', '/v1/kv/docs/a2');
    const page = (q: string) => call(s, 'GET', `/v1/ns/docs/keys?${q}`).then((r) => r.body);
    expect(await page('')).toEqual(['a1', 'a3', 'b/1', 'b/2', 'z', 'ü', 'ü✓']);
    expect(await page('limit=2')).toEqual(['a1', 'a3']);
    expect(await page('limit=2&after=a3')).toEqual(['b/1', 'b/2']);
    expect(await page(`prefix=${encodeURIComponent('b/')}&after=${encodeURIComponent('b/1')}`)).toEqual(['b/2']);
    expect(await page(`prefix=${encodeURIComponent('ü')}`)).toEqual(['ü', 'ü✓']);
    expect(await page('prefix=a&after=a9')).toEqual([]);
    expect(await page('prefix=&after=&limit=100000')).toHaveLength(7);
    expect((await call(s, 'GET', '/v1/ns/docs/count')).body).toEqual({ keys: 7 });
    expect((await call(s, 'GET', '/v1/ns/empty/count')).body).toEqual({ keys: 0 });
    for (const [path, status, code] of [
      ['/v1/ns/docs/keys?cursor=a1', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/docs/keys?limit=0', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/docs/keys?limit=100001', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/docs/keys?limit=ten', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/docs/keys?limit=-1', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/docs/keys?prefix=a&prefix=b', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/docs/keys?after=%00', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/_x/keys?limit=1', 400, 'INVALID_NAMESPACE'],
      ['/v1/ns/docs/count?limit=1', 400, 'INVALID_ARGUMENT'],
      ['/v1/ns/_x/count', 400, 'INVALID_NAMESPACE'],
    ] as const) {
      const r = await call(s, 'GET', path);
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({ path, status, code });
    }
  });

  it('queries, aggregates, and manages views and indexes', async () => {
    const s = await server();
    for (let i = 0; i < 10; i++) await call(s, 'PUT', `/v1/kv/items/i${i}`, { n: i, kind: i % 2 ? 'odd' : 'even' });
    const q = await call(s, 'POST', '/v1/query/items', { filter: { n: { $gte: 7 } }, sort: [['n', 'desc']] });
    expect(q.body.rows.map((r: Json) => r.key)).toEqual(['i9', 'i8', 'i7']);
    expect((await call(s, 'POST', '/v1/query/items', { filter: { n: { $bad: 1 } } })).body.error).toMatchObject({ code: 'INVALID_QUERY' });
    expect((await call(s, 'POST', '/v1/aggregate/items', { aggregation: { op: 'sum', path: 'n' }, filter: { kind: 'odd' } })).body).toBe(25);
    expect((await call(s, 'POST', '/v1/indexes', { namespace: 'items', field: 'kind' })).body).toMatchObject({ field: 'kind' });
    expect((await call(s, 'POST', '/v1/query/items', { filter: { kind: 'odd' } })).body.explain.strategy).toBe('index');
    expect((await call(s, 'GET', '/v1/indexes')).body).toHaveLength(1);
    expect((await call(s, 'DELETE', '/v1/indexes/items/kind')).status).toBe(200);
    expect((await call(s, 'DELETE', '/v1/indexes/items/kind')).status).toBe(404);
    expect((await call(s, 'POST', '/v1/views', { name: 'odd', namespace: 'items', query: { filter: { kind: 'odd' } }, autoRefresh: true })).status).toBe(200);
    expect((await call(s, 'POST', '/v1/views', { name: 'odd', namespace: 'items' })).status).toBe(409);
    expect((await call(s, 'GET', '/v1/views/odd')).body.total).toBe(5);
    expect((await call(s, 'POST', '/v1/views/odd/refresh')).body.total).toBe(5);
    expect((await call(s, 'GET', '/v1/views')).body.map((v: Json) => v.name)).toEqual(['odd']);
    expect((await call(s, 'DELETE', '/v1/views/odd')).status).toBe(200);
    expect((await call(s, 'GET', '/v1/views/odd')).status).toBe(404);
  });

  it('reports status, health and Prometheus metrics', async () => {
    const s = await server();
    await call(s, 'PUT', '/v1/kv/a/b', 1);
    expect((await call(s, 'GET', '/healthz')).body).toEqual({ ok: true });
    expect((await call(s, 'GET', '/v1/status')).body).toMatchObject({ keys: 1, versions: 1, seq: 1, adapter: 'file', node: s.db.nodeId });
    const metrics = await call(s, 'GET', '/metrics');
    expect(metrics.body).toContain('koru_http_requests_total{route="/v1/kv/:ns/:key",method="PUT",status="200"} 1');
    expect(metrics.body).toContain('koru_versions 1');
    // The one PUT is counted in the histogram (which bucket depends on the machine's speed).
    expect(metrics.body).toMatch(/koru_http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/kv\/:ns\/:key",method="PUT"\} 1/);
    expect(metrics.body).toMatch(/koru_http_request_duration_seconds_count\{route="\/v1\/kv\/:ns\/:key",method="PUT"\} 1/);
  });

  it('answers bad input with typed errors and fitting statuses, storing nothing', async () => {
    const s = await server({ maxBodyBytes: 4096 });
    const cases: Array<[string, string, unknown, number, string]> = [
      ['PUT', '/v1/kv/users/a', '{"a":', 400, 'INVALID_VALUE'],
      ['PUT', '/v1/kv/users/a', '', 400, 'INVALID_VALUE'],
      ['PUT', '/v1/kv/_sys/a', '1', 400, 'INVALID_NAMESPACE'],
      ['PUT', '/v1/kv/users/a', `"${'x'.repeat(5000)}"`, 413, 'BODY_TOO_LARGE'],
      ['PUT', '/v1/kv/users/a', `${'['.repeat(600)}${']'.repeat(600)}`, 400, 'VALUE_TOO_DEEP'],
      ['GET', '/v1/kv/users/a?at=yesterday', undefined, 400, 'INVALID_ARGUMENT'],
      ['GET', '/v1/kv/users/a/history?limit=x', undefined, 400, 'INVALID_ARGUMENT'],
      ['GET', '/v1/nothing', undefined, 404, 'NOT_FOUND'],
      ['DELETE', '/v1/kv/users/nobody', undefined, 404, 'KEY_NOT_FOUND'],
      // Shapes refused at the edge by the route schemas.
      ['GET', '/v1/kv/users/a?bogus=1', undefined, 400, 'INVALID_ARGUMENT'],
      ['POST', '/v1/indexes', { namespace: 'users' }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/v1/indexes', { namespace: 'users', field: 7 }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/v1/views', { namespace: 'users' }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/v1/views', { name: 'v', namespace: 'users', autoRefresh: 'yes' }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/v1/aggregate/users', { filter: {} }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/v1/aggregate/users', { aggregation: { op: 'count' }, extra: 1 }, 400, 'INVALID_ARGUMENT'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await call(s, method, path, body);
      expect({ path, body, status: r.status, code: r.body?.error?.code }).toEqual({ path, body, status, code });
    }
    expect((await call(s, 'GET', '/v1/status')).body.versions).toBe(0);
  });

  it('with a token, refuses every route without it (except /healthz), in constant time', async () => {
    const s = await server({ token: 's3cret' });
    for (const [method, path] of [['GET', '/v1/kv/a/b'], ['PUT', '/v1/kv/a/b'], ['GET', '/v1/ns'], ['POST', '/v1/query/a'], ['GET', '/v1/status'], ['GET', '/metrics'], ['GET', '/v1/views']]) {
      const none = await call(s, method!, path!, method === 'GET' ? undefined : {});
      expect({ path, status: none.status, code: none.body.error.code }).toEqual({ path, status: 401, code: 'UNAUTHORIZED' });
      expect((await call(s, method!, path!, method === 'GET' ? undefined : {}, { authorization: 'Bearer wrong' })).status).toBe(401);
    }
    expect((await call(s, 'PUT', '/v1/kv/a/b', 1, { authorization: 'Bearer s3cret' })).status).toBe(200);
    expect((await call(s, 'GET', '/healthz')).status).toBe(200);
  });

  it('leaves a SERVER.json marker in the data directory while it serves (no token in it)', async () => {
    const t = tempDir('koru-marker-');
    cleanups.push(t.cleanup);
    const s = await startServer({ path: t.dir, port: 0, log: 'silent', token: 'hush' });
    const marker = JSON.parse(readFileSync(join(t.dir, SERVER_FILE), 'utf8')) as Record<string, unknown>;
    expect(marker).toMatchObject({ url: s.url, pid: process.pid, token: true });
    expect(JSON.stringify(marker)).not.toContain('hush');
    await s.close();
    expect(existsSync(join(t.dir, SERVER_FILE))).toBe(false);
  });

  it('refuses a non-loopback bind without a token unless insecure', async () => {
    await expect(startServer({ host: '0.0.0.0', port: 0, log: 'silent' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/without a token/) });
  });

  it('two clients racing on one version: one wins, the other gets 412', async () => {
    const s = await server();
    const base = await call(s, 'PUT', '/v1/kv/acct/1', { balance: 10 });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call(s, 'PUT', '/v1/kv/acct/1', { balance: 10 + i }, { 'if-match': `"${base.body.versionId}"` })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 412)).toHaveLength(7);
    expect((await call(s, 'GET', '/v1/kv/acct/1/history')).body).toHaveLength(2);
  });

  it('cuts off slow headers and says so past the connection limit', async () => {
    const s = await server({ headersTimeoutMs: 300, requestTimeoutMs: 300, maxConnections: 2 });
    const { port } = s;
    // Slowloris: headers that never finish.
    const slow = connect(port, '127.0.0.1');
    slow.write('GET /v1/ns HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const closed = await new Promise<string>((resolve) => {
      let got = '';
      slow.on('data', (d) => (got += d.toString()));
      slow.on('close', () => resolve(got));
      setTimeout(() => resolve('still open'), 5_000);
    });
    expect(closed).not.toBe('still open');
    // Two held connections that served a request (so they are not evicted for a
    // newcomer, see hostile-connections.test.ts), then a third is told why it is refused.
    const held = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    await Promise.all(held.map((h) => new Promise((r) => {
      h.once('data', r);
      h.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    })));
    const third = await fetch(`${s.url}/healthz`).then(async (r) => ({ status: r.status, body: await r.json() }), (e: unknown) => ({ status: 0, body: String(e) }));
    expect(third).toMatchObject({ status: 503, body: { error: { code: 'TOO_MANY_CONNECTIONS' } } });
    for (const h of held) h.destroy();
  });
});
