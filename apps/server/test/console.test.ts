// The web console at `/` against a real server on 127.0.0.1: a temporary console
// directory (index.html, a hashed script with its .br and .gz copies made here, a
// stylesheet without copies), its headers, encoding negotiation, HEAD, traversal
// attempts, the token, and the console turned off or not built.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { consoleAssetsDir } from '@koru/console';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type KoruServer, type ServerOptions } from '../src/index.js';
import { exited, spawnServer, startTestServer } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const INDEX = '<!doctype html><meta charset="utf-8"><title>KoruDelta</title><script type="module" src="/assets/app-abc123.js"></script><link rel="stylesheet" href="/assets/style-abc.css">';
const SCRIPT = `export const rows = [${Array.from({ length: 200 }, (_, i) => `{ id: ${i}, name: "row ${i}" }`).join(', ')}];\n`;
const STYLE = 'body { margin: 0 }\n';
/** Outside the console directory: no request may ever read it. */
const SECRET = '{"secret":"never served"}';

/** A console directory inside a temporary one that also holds `secret.json` and `package.json`. */
function consoleFixture(withIndex = true): { root: string; dir: string } {
  const t = tempDir('koru-console-');
  cleanups.push(t.cleanup);
  const dir = join(t.dir, 'app');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(t.dir, 'secret.json'), SECRET);
  writeFileSync(join(t.dir, 'package.json'), SECRET);
  if (withIndex) writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'app-abc123.js'), SCRIPT);
  writeFileSync(join(dir, 'assets', 'app-abc123.js.br'), brotliCompressSync(SCRIPT));
  writeFileSync(join(dir, 'assets', 'app-abc123.js.gz'), gzipSync(SCRIPT));
  writeFileSync(join(dir, 'assets', 'style-abc.css'), STYLE);
  writeFileSync(join(dir, 'assets', '.hidden'), SECRET);
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  return { root: t.dir, dir };
}

const server = (options: ServerOptions = {}): Promise<KoruServer> => startTestServer(cleanups, 'koru-console-db-', options);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One request with the path sent exactly as written (fetch would normalize `..`); bodies are not decoded. */
function send(s: KoruServer, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const { hostname, port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const json = (a: Answer): { error: { code: string; message: string } } => JSON.parse(a.body.toString('utf8'));

function expectSecurityHeaders(a: Answer): void {
  expect(a.headers['content-security-policy']).toBe(CSP);
  expect(a.headers['x-content-type-options']).toBe('nosniff');
  expect(a.headers['referrer-policy']).toBe('no-referrer');
}

function varyTokens(a: Answer): string[] {
  return String(a.headers.vary ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase());
}

describe('the web console at /', () => {
  it('serves index.html at / and /index.html: no-cache, text/html; charset=utf-8, the security headers; a 304 on revalidation', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir } });
    expect(s.console).toEqual({ url: `${s.url}/`, dir, built: true });
    for (const path of ['/', '/index.html', '/?from=bookmark']) {
      const a = await send(s, path);
      expect(a.status, path).toBe(200);
      expect(a.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(a.headers['cache-control']).toBe('no-cache');
      expect(a.headers['content-encoding']).toBeUndefined();
      expectSecurityHeaders(a);
      expect(a.body.toString('utf8')).toBe(INDEX);
      const again = await send(s, path, { 'if-none-match': String(a.headers.etag) });
      expect(again.status, path).toBe(304);
      expect(again.body.length).toBe(0);
    }
  });

  it('serves hashed assets for a year, immutable, varying by Accept-Encoding: br, else gzip, else identity', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir } });
    const cases: Array<[string | undefined, string | undefined]> = [
      ['br, gzip, deflate', 'br'],
      ['gzip, deflate, br, zstd', 'br'],
      ['gzip', 'gzip'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=0, gzip', 'gzip'],
      ['*', 'gzip'],
      ['gzip;q=0, br;q=0', undefined],
      ['identity', undefined],
      [undefined, undefined],
    ];
    for (const [accept, encoding] of cases) {
      const a = await send(s, '/assets/app-abc123.js', accept !== undefined ? { 'accept-encoding': accept } : {});
      expect(a.status, accept).toBe(200);
      expect(a.headers['content-encoding'], accept).toBe(encoding);
      expect(a.headers['content-type'], accept).toBe('application/javascript; charset=utf-8');
      expect(a.headers['cache-control'], accept).toBe('public, max-age=31536000, immutable');
      expect(varyTokens(a), accept).toContain('accept-encoding');
      expectSecurityHeaders(a);
      const body = encoding === 'br' ? brotliDecompressSync(a.body) : encoding === 'gzip' ? gunzipSync(a.body) : a.body;
      expect(body.toString('utf8'), accept).toBe(SCRIPT);
      if (encoding !== undefined) expect(a.body.length).toBeLessThan(Buffer.byteLength(SCRIPT));
    }
    // A file without compressed copies: itself, whatever the client accepts, still varying.
    const css = await send(s, '/assets/style-abc.css', { 'accept-encoding': 'br, gzip' });
    expect(css.status).toBe(200);
    expect(css.headers['content-encoding']).toBeUndefined();
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(varyTokens(css)).toContain('accept-encoding');
    expect(css.body.toString('utf8')).toBe(STYLE);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir } });
    const page = await send(s, '/', {}, 'HEAD');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-length']).toBe(String(Buffer.byteLength(INDEX)));
    expectSecurityHeaders(page);
    expect(page.body.length).toBe(0);
    const asset = await send(s, '/assets/app-abc123.js', { 'accept-encoding': 'br' }, 'HEAD');
    expect(asset.status).toBe(200);
    expect(asset.headers['content-encoding']).toBe('br');
    expect(asset.headers['content-length']).toBe(String(brotliCompressSync(SCRIPT).length));
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.body.length).toBe(0);
  });

  it('serves the files beside index.html (a favicon) revalidated, and only GET and HEAD', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir } });
    const icon = await send(s, '/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.headers['cache-control']).toBe('no-cache');
    expectSecurityHeaders(icon);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const a = await send(s, '/', {}, method);
      expect(a.status, method).toBe(405);
      expect(a.headers.allow).toBe('GET, HEAD');
      expect(json(a).error.code).toBe('METHOD_NOT_ALLOWED');
      const b = await send(s, '/assets/app-abc123.js', {}, method);
      expect(b.status, method).toBe(404);
      expect(json(b).error.code).toBe('NOT_FOUND');
    }
  });

  it('never leaves its directory and lists none: traversal, encoded dots and slashes, backslashes, NUL, dotfiles, copies by name → 404', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir } });
    const attempts = [
      '/assets/../package.json',
      '/assets/../../secret.json',
      '/assets/../../package.json',
      '/assets/%2e%2e/%2e%2e/secret.json',
      '/assets/%2E%2E/%2E%2E/package.json',
      '/assets/.%2e/.%2e/secret.json',
      '/assets/..%2f..%2fsecret.json',
      '/assets/..%2F..%2Fpackage.json',
      '/assets/%2f..%2f..%2fsecret.json',
      '/assets/..%5c..%5csecret.json',
      '/assets/..\\..\\secret.json',
      '/assets/\\..\\..\\secret.json',
      '/assets/app-abc123.js%00',
      '/assets/app-abc123.js%00.css',
      '/assets/%00../../secret.json',
      '/assets/%252e%252e/%252e%252e/secret.json',
      '/assets/./app-abc123.js',
      '/assets//app-abc123.js',
      '/assets/.hidden',
      '/assets/%2ehidden',
      '/assets/app-abc123.js.br',
      '/assets/app-abc123.js.gz',
      '/assets/',
      '/assets',
      '/assets/nope.js',
      '/package.json',
      '/secret.json',
      '/%2e%2e/secret.json',
      '/index.html/..',
      '/index.html/../../secret.json',
      '/app',
    ];
    for (const path of attempts) {
      for (const accept of [undefined, 'br, gzip']) {
        const a = await send(s, path, accept !== undefined ? { 'accept-encoding': accept } : {});
        expect(a.status, path).toBe(404);
        expect(a.headers['content-type'], path).toMatch(/^application\/json/);
        expect(json(a).error.code, path).toBe('NOT_FOUND');
        expect(a.body.toString('utf8'), path).not.toContain('never served');
      }
    }
    // A malformed escape is refused as such, and serves nothing either.
    const bad = await send(s, '/assets/%zz/secret.json');
    expect([400, 404]).toContain(bad.status);
    expect(bad.body.toString('utf8')).not.toContain('never served');
  });

  it('is served without the token on a server that has one; every API route still needs it', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir }, token: 'console-token' });
    for (const path of ['/', '/index.html', '/assets/app-abc123.js', '/assets/style-abc.css', '/favicon.svg']) {
      expect((await send(s, path)).status, path).toBe(200);
      expect((await send(s, path, {}, 'HEAD')).status, path).toBe(200);
    }
    // An unknown console file is simply not there (nothing to protect).
    expect((await send(s, '/assets/nope.js')).status).toBe(404);
    for (const path of ['/v1/ns', '/v1/status', '/v1/openapi.json', '/metrics', '/v1/kv/users/alice', '/nope', '/v1/export']) {
      const a = await send(s, path);
      expect(a.status, path).toBe(401);
      expect(json(a).error.code, path).toBe('UNAUTHORIZED');
    }
    // Other methods on the console's paths are the API's business: the token first.
    expect((await send(s, '/', {}, 'POST')).status).toBe(401);
    expect((await send(s, '/', { authorization: 'Bearer console-token' }, 'POST')).status).toBe(405);
    expect((await send(s, '/v1/ns', { authorization: 'Bearer console-token' })).status).toBe(200);
    expect((await send(s, '/healthz')).status).toBe(200);
  });

  it('passes the browser checks a navigation makes, and no others: an unknown Host or a foreign Origin still gets 403', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir } });
    const { host } = new URL(s.url);
    // A top-level navigation sends no Origin; the page's own requests may send its own.
    expect((await send(s, '/', { host })).status).toBe(200);
    expect((await send(s, '/', { host: `localhost:${s.port}` })).status).toBe(200);
    expect((await send(s, '/assets/app-abc123.js', { host, origin: s.url })).status).toBe(200);
    // DNS rebinding: a hostile name resolved to 127.0.0.1.
    const rebound = await send(s, '/', { host: `evil.example:${s.port}` });
    expect(rebound.status).toBe(403);
    expect(json(rebound).error.code).toBe('FORBIDDEN');
    expect((await send(s, '/assets/app-abc123.js', { host, origin: 'http://evil.example' })).status).toBe(403);
  });

  it('is hidden from the OpenAPI document (files, not API)', async () => {
    const { dir } = consoleFixture();
    const s = await server({ console: { dir } });
    const doc = JSON.parse((await send(s, '/v1/openapi.json')).body.toString('utf8')) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).not.toContain('/');
    expect(Object.keys(doc.paths).filter((p) => !p.startsWith('/v1/') && !['/healthz', '/readyz', '/metrics'].includes(p))).toEqual([]);
  });

  it('console: false → / is 404 as without a console', async () => {
    const s = await server({ console: false });
    expect(s.console).toBeUndefined();
    for (const path of ['/', '/index.html', '/assets/app-abc123.js']) {
      const a = await send(s, path);
      expect(a.status, path).toBe(404);
      expect(json(a).error.code).toBe('NOT_FOUND');
      expect(a.headers['content-security-policy']).toBeUndefined();
    }
  });

  it('not built (no index.html): the server runs, / says so (404), and a console built later is served at once', async () => {
    const { dir } = consoleFixture(false);
    const s = await server({ console: { dir } });
    expect(s.console?.built).toBe(false);
    for (const path of ['/', '/index.html']) {
      const a = await send(s, path);
      expect(a.status, path).toBe(404);
      expect(json(a).error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/web console is not built/) });
      // The answer names no directory of the server's machine.
      expect(a.body.toString('utf8')).not.toContain(dir);
    }
    expect((await send(s, '/healthz')).status).toBe(200);
    expect((await send(s, '/v1/ns')).status).toBe(200);
    writeFileSync(join(dir, 'index.html'), INDEX);
    expect((await send(s, '/')).body.toString('utf8')).toBe(INDEX);
  });

  it("defaults to @koru/console's directory, served when built and a clear 404 when not", async () => {
    const s = await server();
    expect(s.console?.dir).toBe(consoleAssetsDir());
    const built = existsSync(join(consoleAssetsDir(), 'index.html'));
    expect(s.console?.built).toBe(built);
    const a = await send(s, '/');
    if (built) {
      expect(a.status).toBe(200);
      expect(a.headers['content-type']).toBe('text/html; charset=utf-8');
    } else {
      expect(a.status).toBe(404);
      expect(json(a).error.message).toMatch(/web console is not built/);
    }
  });

  it('refuses a console option that is not { dir } naming a directory, or false (INVALID_ARGUMENT), before opening anything', async () => {
    const { root, dir } = consoleFixture();
    const t = tempDir('koru-console-bad-');
    cleanups.push(t.cleanup);
    const bad: unknown[] = [true, 'dist', null, [], {}, { dir: '' }, { dir: 7 }, { dir: join(root, 'missing') }, { dir: join(root, 'secret.json') }, { dir, cache: true }, { path: dir }];
    for (const option of bad) {
      await expect(startServer({ path: t.dir, port: 0, log: 'silent', console: option as NonNullable<ServerOptions['console']> }), JSON.stringify(option)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    // Nothing was left open: the directory is free for a server that starts.
    const s = await startServer({ path: t.dir, port: 0, log: 'silent', console: { dir } });
    cleanups.push(() => s.close());
    expect((await send(s, '/')).status).toBe(200);
  });

  it('koru-server says where the console is, and --no-console serves none', async () => {
    for (const args of [[], ['--no-console']]) {
      const t = tempDir('koru-console-bin-');
      cleanups.push(t.cleanup);
      const { child, url, stderr } = await spawnServer(['-d', t.dir, ...args], { KORU_TOKEN: '', KORU_PORT: '' });
      cleanups.push(async () => {
        child.kill('SIGTERM');
        await exited(child);
      });
      const page = await fetch(`${url}/`);
      if (args.length === 0) {
        // The line names the default console, built or not.
        expect(stderr()).toMatch(new RegExp(`koru: web console (at ${url}/|not built \\(no index.html in .*\\): ${url}/ answers 404)\n`));
        expect([200, 404]).toContain(page.status);
      } else {
        expect(stderr()).not.toContain('web console');
        expect(page.status).toBe(404);
        expect(((await page.json()) as { error: { message: string } }).error.message).toBe('no route GET /');
      }
    }
  });
});
