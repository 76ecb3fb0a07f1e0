// Browser-facing security against a real server on a real port: Origin and Host checked
// on every request and upgrade (403 before anything runs), CORS only for allowed origins,
// JSON-only writes (415), 405 with Allow, If-Match per RFC 9110.
import { request } from 'node:http';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type KoruServer, type ServerOptions } from '../src/index.js';
import { originPolicy, parseAllowHosts, parseAllowOrigins } from '../src/origin.js';
import { MAX_IF_MATCH_TAGS } from '../src/preconditions.js';
import { Session, startTestServer } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = (options: ServerOptions = {}): Promise<KoruServer> => startTestServer(cleanups, 'koru-guard-', options);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: any;
}

/** One HTTP request with exactly these headers (node:http, so Host can be set too). */
function raw(s: KoruServer, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${s.url}${path}`, { method, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** The status of a WebSocket upgrade to `path` with these headers (101 when it opened). */
function upgradeStatus(s: KoruServer, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}${path}`, { headers });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (e) => {
      if (!/Unexpected server response/.test(String(e))) reject(e);
    });
  });
}

describe('Origin', () => {
  it('refuses a request from another web origin with 403 FORBIDDEN before anything runs, without CORS headers', async () => {
    const s = await server();
    const evil = { origin: 'https://evil.example' };
    // The "simple" request a page can send without a preflight: text/plain POST.
    const view = JSON.stringify({ name: 'stolen', namespace: 'users' });
    const post = await raw(s, 'POST', '/v1/views', { ...evil, 'content-type': 'text/plain' }, view);
    expect(post.status).toBe(403);
    expect(post.body.error).toMatchObject({ code: 'FORBIDDEN' });
    expect(post.body.error.message).toMatch(/https:\/\/evil\.example.*--allow-origin/);
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
    // Even a JSON one, and reads.
    expect((await raw(s, 'POST', '/v1/views', { ...evil, ...JSON_TYPE }, view)).status).toBe(403);
    expect((await raw(s, 'PUT', '/v1/kv/users/alice', { ...evil, ...JSON_TYPE }, '{"owned":true}')).status).toBe(403);
    expect((await raw(s, 'GET', '/v1/ns', evil)).status).toBe(403);
    expect((await raw(s, 'OPTIONS', '/v1/kv/users/alice', { ...evil, 'access-control-request-method': 'PUT' })).status).toBe(403);
    expect((await raw(s, 'GET', '/healthz', { origin: 'null' })).status).toBe(403);
    // Nothing was written.
    expect(await s.db.listViews()).toEqual([]);
    expect(await s.db.listNamespaces()).toEqual([]);
  });

  it("lets through requests without Origin (curl, the client, kdelta) and from the server's own origin", async () => {
    const s = await server();
    expect((await raw(s, 'PUT', '/v1/kv/users/a', JSON_TYPE, '1')).status).toBe(200);
    const own = await raw(s, 'PUT', '/v1/kv/users/b', { origin: s.url, ...JSON_TYPE }, '2');
    expect(own.status).toBe(200);
    // Same origin needs no CORS headers.
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    const port = new URL(s.url).port;
    expect((await raw(s, 'GET', '/v1/ns', { origin: `http://localhost:${port}`, host: `localhost:${port}` })).status).toBe(200);
    // Another port of the same machine is another origin.
    expect((await raw(s, 'GET', '/v1/ns', { origin: `http://127.0.0.1:${Number(port) === 1 ? 2 : Number(port) - 1}` })).status).toBe(403);
  });

  it('refuses a WebSocket upgrade from another origin, on /v1/ws and on /v1/cluster, before either handler', async () => {
    const s = await server();
    await s.db.put('users', 'alice', { secret: 1 });
    const ws = await upgradeStatus(s, '/v1/ws', { origin: 'https://evil.example' });
    expect(ws.status).toBe(403);
    expect(JSON.parse(ws.body).error).toMatchObject({ code: 'FORBIDDEN' });
    expect((await upgradeStatus(s, '/v1/cluster', { origin: 'https://evil.example' })).status).toBe(403);
    // Without Origin, and from the server's own origin, the socket opens and works.
    expect((await upgradeStatus(s, '/v1/ws', {})).status).toBe(101);
    const { session } = await Session.open(s.url, { type: 'hello', protocol: 1 }, { origin: s.url });
    expect(await session.call('get', 'users', 'alice')).toEqual({ secret: 1 });
    session.close();
    expect((await s.db.history('users', 'alice')).length).toBe(1);
  });

  it('allows listed origins with CORS and preflight; * only when given; others still 403', async () => {
    const page = 'http://localhost:5173';
    const s = await server({ allowOrigins: [page], token: 'tok' });
    const pre = await raw(s, 'OPTIONS', '/v1/kv/users/alice', { origin: page, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type' });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(page);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('PUT');
    expect(String(pre.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    const put = await raw(s, 'PUT', '/v1/kv/users/alice', { origin: page, authorization: 'Bearer tok', ...JSON_TYPE }, '{"n":1}');
    expect(put.status).toBe(200);
    expect(put.headers['access-control-allow-origin']).toBe(page);
    expect(String(put.headers['access-control-expose-headers'])).toContain('etag');
    // An allowed page is still asked for the token.
    const noToken = await raw(s, 'GET', '/v1/ns', { origin: page });
    expect(noToken.status).toBe(401);
    expect(noToken.headers['access-control-allow-origin']).toBe(page);
    const other = await raw(s, 'OPTIONS', '/v1/kv/users/alice', { origin: 'http://localhost:5174', 'access-control-request-method': 'PUT' });
    expect(other.status).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect((await upgradeStatus(s, '/v1/ws', { origin: page })).status).toBe(101);

    const any = await server({ allowOrigins: ['*'] });
    const anyPut = await raw(any, 'PUT', '/v1/kv/users/x', { origin: 'https://anywhere.example', ...JSON_TYPE }, '1');
    expect(anyPut.status).toBe(200);
    expect(anyPut.headers['access-control-allow-origin']).toBe('https://anywhere.example');
    expect(String(anyPut.headers.vary)).toMatch(/origin/i);
  });

  it('parses allow-lists from flags and the environment, refusing what is not an origin or host', () => {
    expect(parseAllowOrigins(['http://LocalHost:3000/', 'https://a.example,https://b.example:443', '*'], '--allow-origin')).toEqual([
      'http://localhost:3000',
      'https://a.example',
      'https://b.example',
      '*',
    ]);
    expect(() => parseAllowOrigins(['localhost:3000'], '--allow-origin')).toThrow(/--allow-origin "localhost:3000" is not an origin/);
    expect(() => parseAllowOrigins(['http://a.example/path'], 'KORU_ALLOW_ORIGIN')).toThrow(/KORU_ALLOW_ORIGIN/);
    expect(parseAllowHosts(['Koru.Example, proxy.local:8080'], '--allow-host')).toEqual(['koru.example', 'proxy.local:8080']);
    expect(() => parseAllowHosts(['http://x'], '--allow-host')).toThrow(/is not a host name/);
  });

  it('startServer normalizes allowOrigins, and refuses a bad entry before opening the database', async () => {
    const s = await server({ allowOrigins: ['HTTP://LocalHost:3000/'] });
    expect((await raw(s, 'GET', '/v1/ns', { origin: 'http://localhost:3000' })).status).toBe(200);
    const t = tempDir('koru-guard-bad-');
    cleanups.push(t.cleanup);
    await expect(startServer({ path: t.dir, port: 0, log: 'silent', allowOrigins: ['localhost:3000'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(startServer({ path: t.dir, port: 0, log: 'silent', allowHosts: ['a b'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // Nothing was left locked.
    const again = await startServer({ path: t.dir, port: 0, log: 'silent' });
    await again.close();
  });
});

describe('Host', () => {
  it('a loopback server answers only to loopback names (DNS rebinding gets 403), on HTTP and upgrades', async () => {
    const s = await server();
    const port = new URL(s.url).port;
    for (const host of ['attacker.example', `attacker.example:${port}`, `127.0.0.1.attacker.example:${port}`, `localhost.:${port}x`]) {
      const r = await raw(s, 'GET', '/v1/ns', { host });
      expect(r.status, host).toBe(403);
      expect(r.body.error, host).toMatchObject({ code: 'FORBIDDEN' });
    }
    const put = await raw(s, 'PUT', '/v1/kv/users/alice', { host: `attacker.example:${port}`, ...JSON_TYPE }, '{"owned":true}');
    expect(put.status).toBe(403);
    expect(await s.db.listNamespaces()).toEqual([]);
    // Any port: a proxy or relay on this machine forwards its own.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, 'localhost', '127.0.0.1:8080']) expect((await raw(s, 'GET', '/v1/ns', { host })).status, host).toBe(200);
    expect((await upgradeStatus(s, '/v1/ws', { host: `attacker.example:${port}` })).status).toBe(403);
    // The cluster door too: before this check, a rebinding page's socket reached it.
    expect((await upgradeStatus(s, '/v1/cluster', { host: `attacker.example:${port}` })).status).toBe(403);
  });

  it('allowHosts adds names (a proxy in front); a non-loopback bind serves any Host unless allowHosts is set', async () => {
    const s = await server({ allowHosts: ['koru.example', 'proxy.local:8080'] });
    expect((await raw(s, 'GET', '/v1/ns', { host: 'koru.example' })).status).toBe(200);
    expect((await raw(s, 'GET', '/v1/ns', { host: 'proxy.local:8080' })).status).toBe(200);
    expect((await raw(s, 'GET', '/v1/ns', { host: 'proxy.local:8081' })).status).toBe(403);
    expect((await upgradeStatus(s, '/v1/ws', { host: 'koru.example' })).status).toBe(101);
    // The policy of a wildcard bind (binding one in a test would expose it).
    expect(originPolicy({ host: '0.0.0.0' }).refusal({ host: 'anything.example:7878' })).toBeUndefined();
    expect(originPolicy({ host: '0.0.0.0', allowHosts: ['db.example'] }).refusal({ host: 'anything.example:7878' })).toMatch(/does not answer to the host name/);
    expect(originPolicy({ host: '0.0.0.0', allowHosts: ['db.example'] }).refusal({ host: 'db.example:7878' })).toBeUndefined();
  });
});

describe('writes are JSON', () => {
  it('a write with a body of another type gets 415 UNSUPPORTED_MEDIA_TYPE and stores nothing', async () => {
    const s = await server();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
      const r = await raw(s, 'PUT', '/v1/kv/users/alice', { 'content-type': type }, '{"n":1}');
      expect(r.status, type).toBe(415);
      expect(r.body.error, type).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    }
    expect((await raw(s, 'PUT', '/v1/kv/users/alice', {}, '{"n":1}')).status).toBe(415);
    expect((await raw(s, 'POST', '/v1/views', { 'content-type': 'text/plain' }, JSON.stringify({ name: 'v', namespace: 'users' }))).status).toBe(415);
    expect(await s.db.listNamespaces()).toEqual([]);
    expect(await s.db.listViews()).toEqual([]);
    expect((await raw(s, 'PUT', '/v1/kv/users/alice', { 'content-type': 'application/json; charset=utf-8' }, '{"n":1}')).status).toBe(200);
    expect((await raw(s, 'PUT', '/v1/kv/users/bob', { 'content-type': 'Application/JSON' }, '{"n":2}')).status).toBe(200);
    // Writes without a body need no type.
    expect((await raw(s, 'DELETE', '/v1/kv/users/bob')).status).toBe(200);
    await s.db.createView({ name: 'all', namespace: 'users' });
    expect((await raw(s, 'POST', '/v1/views/all/refresh')).status).toBe(200);
    expect((await raw(s, 'POST', '/v1/views/all/refresh', { 'content-length': '0' })).status).toBe(200);
  });
});

describe('methods', () => {
  it('a method a known route does not have answers 405 with Allow; an unknown path stays 404', async () => {
    const s = await server();
    const patch = await raw(s, 'PATCH', '/v1/kv/users/alice', JSON_TYPE, '1');
    expect(patch.status).toBe(405);
    expect(patch.headers.allow).toBe('DELETE, GET, HEAD, PUT');
    expect(patch.body.error).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    const post = await raw(s, 'POST', '/v1/status');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await raw(s, 'DELETE', '/v1/views')).headers.allow).toBe('GET, HEAD, POST');
    expect((await raw(s, 'GET', '/v1/nosuch')).status).toBe(404);
    expect((await raw(s, 'GET', '/v1/kv/users')).status).toBe(404);
  });
});

describe('If-Match', () => {
  it('a malformed If-Match is 400 INVALID_ARGUMENT (not 412) and writes nothing', async () => {
    const s = await server();
    const v = await s.db.put('users', 'alice', 1);
    for (const bad of ['garbage', v.versionId, `"${v.versionId}" garbage`, `"a" "b"`, ',', '"unterminated']) {
      const r = await raw(s, 'PUT', '/v1/kv/users/alice', { 'if-match': bad, ...JSON_TYPE }, '2');
      expect(r.status, bad).toBe(400);
      expect(r.body.error, bad).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((await raw(s, 'DELETE', '/v1/kv/users/alice', { 'if-match': bad })).status, bad).toBe(400);
    }
    expect(await s.db.history('users', 'alice')).toHaveLength(1);
  });

  it(`lists at most ${MAX_IF_MATCH_TAGS} entity tags (each is one compare-and-set); more is 400`, async () => {
    const s = await server();
    const v = await s.db.put('users', 'alice', 1);
    const others = Array.from({ length: MAX_IF_MATCH_TAGS - 1 }, (_, i) => `"other${i}"`);
    const tooMany = await raw(s, 'PUT', '/v1/kv/users/alice', { 'if-match': [...others, '"x"', `"${v.versionId}"`].join(', '), ...JSON_TYPE }, '2');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(new RegExp(`more than ${MAX_IF_MATCH_TAGS} entity tags`));
    expect(await s.db.history('users', 'alice')).toHaveLength(1);
    const most = await raw(s, 'PUT', '/v1/kv/users/alice', { 'if-match': [...others, `"${v.versionId}"`].join(', '), ...JSON_TYPE }, '2');
    expect(most.status).toBe(200);
  });

  it('understands a list of entity tags, *, and weak tags (never a strong match)', async () => {
    const s = await server();
    const v1 = await s.db.put('users', 'alice', 1);
    const listed = await raw(s, 'PUT', '/v1/kv/users/alice', { 'if-match': `"nope", W/"${v1.versionId}" , "${v1.versionId}"`, ...JSON_TYPE }, '2');
    expect(listed.status).toBe(200);
    expect(listed.body.previousVersion).toBe(v1.versionId);
    const v2 = listed.body.versionId as string;
    // The old tag is no longer the head: a list without the current one fails.
    expect((await raw(s, 'PUT', '/v1/kv/users/alice', { 'if-match': `"${v1.versionId}", "other"`, ...JSON_TYPE }, '3')).status).toBe(412);
    expect((await raw(s, 'PUT', '/v1/kv/users/alice', { 'if-match': `W/"${v2}"`, ...JSON_TYPE }, '3')).status).toBe(412);
    // Two If-Match header lines are one list.
    const two = await new Promise<number>((resolve, reject) => {
      const req = request(`${s.url}/v1/kv/users/alice`, { method: 'PUT', headers: { 'content-type': 'application/json', 'content-length': '1' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.setHeader('if-match', ['"x"', `"${v2}"`]);
      req.on('error', reject);
      req.end('3');
    });
    expect(two).toBe(200);
    // *: any current version; none → 412.
    expect((await raw(s, 'PUT', '/v1/kv/users/alice', { 'if-match': '*', ...JSON_TYPE }, '4')).status).toBe(200);
    const missing = await raw(s, 'PUT', '/v1/kv/users/nobody', { 'if-match': '*', ...JSON_TYPE }, '1');
    expect(missing.status).toBe(412);
    expect(missing.body.error).toMatchObject({ code: 'VERSION_CONFLICT' });
    expect(await s.db.listKeys('users')).toEqual(['alice']);
    const head = (await s.db.getVersion('users', 'alice')).versionId;
    expect((await raw(s, 'DELETE', '/v1/kv/users/alice', { 'if-match': `"a", "${head}"` })).status).toBe(200);
    expect((await s.db.history('users', 'alice')).map((v) => v.value)).toEqual([1, 2, 3, 4, null]);
  });
});
