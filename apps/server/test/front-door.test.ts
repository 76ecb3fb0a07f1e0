// The server's front door: koru-server's command line (help, version, one-line usage
// errors, KORU_PORT / PORT / KORU_LOG_LEVEL), GET /readyz, Node's process metrics, the
// OpenAPI 3.1 document, and the cluster door's rules (browsers and open doors refused).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tempDir } from '@koru/vitest-preset/helpers';
import { Validator } from '@seriousme/openapi-schema-validator';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { CLUSTER_PROTOCOL } from '@koru/cluster';
import { KoruDelta } from '@koru/delta';
import Fastify from 'fastify';
import type { KoruServer, ServerOptions } from '../src/index.js';
import { Metrics } from '../src/metrics.js';
import { registerOpenApi } from '../src/openapi.js';
import { registerRest } from '../src/rest.js';
import { BIN, exited, spawnServer, startTestServer } from './support.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = (options: ServerOptions = {}): Promise<KoruServer> => startTestServer(cleanups, 'koru-door-', options);

/** Runs koru-server to completion (killed after 20 s); the environment has no KORU_* or PORT of the caller's. */
function run(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = { ...process.env };
  for (const k of ['KORU_PORT', 'PORT', 'KORU_LOG_LEVEL', 'KORU_TOKEN', 'KORU_CLUSTER_KEY', 'KORU_DB_PATH']) delete base[k];
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))));
}

/** Starts koru-server with `env` (no --port unless in `args`) and resolves with its URL; killed after the test. */
async function serving(args: readonly string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string; stdout: () => string }> {
  const t = tempDir('koru-door-');
  const base = { ...process.env };
  for (const k of ['KORU_PORT', 'PORT', 'KORU_LOG_LEVEL']) delete base[k];
  const child = spawn(process.execPath, [BIN, '-d', t.dir, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(t.cleanup, () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    return exited(child);
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /serving \S+ at (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  return { child, url, stdout: () => out };
}

describe('koru-server command line', () => {
  it('prints its usage and its version (exit 0); an unknown or repeated flag is one line and exit 2, never a stack trace', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: koru-server \[options\]/);
    for (const flag of ['--port', '--bind', '--join', '--cluster-key', '--token', '--insecure', 'KORU_LOG_LEVEL']) expect(help.stdout).toContain(flag);
    expect((await run(['-h'])).stdout).toBe(help.stdout);
    const version = await run(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    for (const [args, message] of [
      [['--bogus'], /^koru-server: unknown option '--bogus'/],
      [['--port', '1', '-p', '2'], /^koru-server: --port given twice/],
      [['--host', '127.0.0.1', '-b', '127.0.0.1'], /^koru-server: --host \/ --bind given twice/],
      [['--port', 'http'], /^koru-server: --port must be a port number from 0 to 65535, not "http"/],
      [['--join', 'a:b:c'], /^koru-server: --join "a:b:c" is not HOST or HOST:PORT/],
      [['stray'], /^koru-server: .*positional/i],
    ] as const) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('takes its port from KORU_PORT, else PORT (a flag wins), its log level from KORU_LOG_LEVEL; a bad value is a one-line usage error', async () => {
    for (const [env, message] of [
      [{ KORU_PORT: 'seven' }, /KORU_PORT must be a port number from 0 to 65535, not "seven"/],
      [{ PORT: '70000' }, /PORT must be a port number from 0 to 65535, not "70000"/],
      [{ KORU_PORT: '0', KORU_LOG_LEVEL: 'loud' }, /KORU_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"/],
    ] as const) {
      const t = tempDir('koru-door-');
      cleanups.push(t.cleanup);
      const r = await run(['-d', t.dir], env);
      expect(r.code, JSON.stringify(env)).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // Port 0 from the environment: a free port, not 7878. KORU_PORT wins over PORT (a bad
    // PORT is not even read), and a flag over both.
    const fromKoru = await serving([], { KORU_PORT: '0', PORT: 'not-a-port' });
    expect(new URL(fromKoru.url).port).not.toBe('7878');
    const fromPort = await serving([], { PORT: '0' });
    expect(new URL(fromPort.url).port).not.toBe('7878');
    const fromFlag = await serving(['--port', '0'], { KORU_PORT: 'not-a-port' });
    expect((await fetch(`${fromFlag.url}/healthz`)).status).toBe(200);
    // The default level logs that it listens; warn does not.
    expect(fromPort.stdout()).toContain('"msg":"Server listening at');
    const quiet = await serving(['--port', '0'], { KORU_LOG_LEVEL: 'warn' });
    expect((await fetch(`${quiet.url}/healthz`)).status).toBe(200);
    expect(quiet.stdout()).not.toContain('Server listening');
  });

  it('refuses a non-loopback bind whose cluster door would be open: a cluster key without a token still leaves HTTP open', async () => {
    const t = tempDir('koru-door-');
    cleanups.push(t.cleanup);
    const r = await run(['-d', t.dir, '--port', '0', '-b', '0.0.0.0', '--cluster-key', 'k']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to serve 0\.0\.0\.0 without a token: .*join its cluster/);
  });
});

describe('GET /readyz', () => {
  it('is 200 once serving (without a token), and 503 stopping while the server leaves its cluster', async () => {
    // A peer in another process: frozen (SIGSTOP), it cannot answer the leave, so the
    // server stays in `stopping` for the leave's deadline.
    const t = tempDir('koru-peer-');
    cleanups.push(t.cleanup);
    const peer = await spawnServer(['-d', t.dir, '--token', 'tok']);
    cleanups.push(() => {
      if (peer.child.exitCode === null) {
        peer.child.kill('SIGCONT');
        peer.child.kill('SIGKILL');
      }
      return exited(peer.child);
    });
    const s = await server({ token: 'tok', cluster: { join: [new URL(peer.url).host] } });
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    expect(s.state).toBe('ready');
    const deadline = Date.now() + 20_000;
    while (!s.cluster!.peers().some((p) => p.state === 'healthy')) {
      if (Date.now() > deadline) throw new Error('the peer never became healthy');
      await new Promise((r) => setTimeout(r, 20));
    }
    peer.child.kill('SIGSTOP');
    const closing = s.close();
    expect(s.state).toBe('stopping');
    const stopping = await fetch(`${s.url}/readyz`);
    expect(stopping.status).toBe(503);
    expect(await stopping.json()).toMatchObject({ ready: false, state: 'stopping', error: { code: 'CLOSED' } });
    peer.child.kill('SIGCONT');
    await closing;
  });
});

describe('GET /metrics', () => {
  it("includes Node's process metrics: heap, GC, event-loop lag, CPU", async () => {
    const s = await server();
    // A collection or two, so that GC has something to report.
    for (let i = 0; i < 20; i++) await fetch(`${s.url}/v1/kv/n/k${i}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(10_000) }) });
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of ['nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds', 'process_cpu_user_seconds_total', 'koru_http_requests_total']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });
});

describe('GET /v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document listing every route, each of which the server answers', async () => {
    const s = await server({ token: 'tok' });
    const auth = { authorization: 'Bearer tok' };
    const res = await fetch(`${s.url}/v1/openapi.json`, { headers: auth });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { operationId: string; parameters: Array<{ name: string; in: string }> }>>; security?: unknown };
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.security).toEqual([{ bearer: [] }]);
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    // Every route PROTOCOL.md documents is in the document (PROTOCOL.md writes :param).
    const protocol = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8');
    const documented = [...protocol.matchAll(/`(GET|PUT|POST|DELETE) (\/[^`\s]*)`/g)].map((m) => `${m[1]} ${m[2]!.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    expect(documented.length).toBeGreaterThan(20);
    for (const op of documented) expect(ops, op).toContain(op);
    for (const op of ['GET /readyz', 'GET /healthz', 'GET /metrics', 'GET /v1/openapi.json', 'GET /v1/cluster/peers', 'PUT /v1/kv/{ns}/{key}']) expect(ops, op).toContain(op);
    // And every operation in it is a route the server has (not the not-found answer).
    for (const op of ops) {
      const [method, path] = op.split(' ') as [string, string];
      const res = await fetch(s.url + path.replace(/\{[^}]+\}/g, 'x'), { method, headers: { ...auth, 'content-type': 'application/json' }, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }) });
      const body = await res.text();
      expect(body, op).not.toMatch(/"no route /);
    }
    // Every operation says what it does.
    for (const [path, methods] of Object.entries(doc.paths)) for (const [m, o] of Object.entries(methods)) expect((o as { summary?: string }).summary, `${m} ${path}`).toMatch(/^\S.{5,}/);
    // Operation ids are unique; path parameters are declared.
    const ids = Object.values(doc.paths).flatMap((m) => Object.values(m).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/v1/kv/{ns}/{key}']!.put!.parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(['ns', 'key']);
    // Writes with a body say they take JSON only.
    expect(doc.paths['/v1/kv/{ns}/{key}']!.put).toHaveProperty(['responses', '415']);
    expect(doc.paths['/v1/kv/{ns}/{key}']!.get).not.toHaveProperty(['responses', '415']);
  });
});

describe('the OpenAPI generator', () => {
  it('lists exactly the routes registered on the app, each method once (HEAD implied)', async () => {
    const db = await KoruDelta.start();
    const app = Fastify();
    cleanups.push(() => db.close(), () => app.close());
    const registered: string[] = [];
    app.addHook('onRoute', (r) => {
      for (const m of [r.method].flat()) if (m !== 'HEAD') registered.push(`${m} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    });
    const openApi = registerOpenApi(app, { version: '9.9.9', tokenRequired: false });
    registerRest(app, { db, metrics: new Metrics(db), version: '9.9.9', started: Date.now(), clusterRef: { node: undefined } });
    openApi.serve();
    app.get('/v1/late', async () => ({ late: true })); // registered after serve(): listed too
    const res = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
    const doc = res.json() as { info: { version: string }; paths: Record<string, Record<string, unknown>>; security?: unknown };
    const listed = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(listed.sort()).toEqual([...new Set(registered)].sort());
    expect(registered.length).toBeGreaterThan(20);
    expect(listed).toContain('GET /v1/late');
    expect(doc.info.version).toBe('9.9.9');
    expect(doc.security).toBeUndefined();
    expect((await new Validator().validate(doc as never)).valid).toBe(true);
  });
});

describe('the cluster door', () => {
  it('refuses browsers (an Origin header) with 403, whatever the key', async () => {
    const s = await server();
    const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/v1/cluster`, { headers: { origin: 'https://evil.example' } });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('a browser got a cluster link')));
      ws.once('error', reject);
    });
    expect(status).toBe(403);
    // Without an Origin (a member), the door opens and the member is challenged.
    const member = new WebSocket(`${s.url.replace(/^http/, 'ws')}/v1/cluster`);
    const first = await new Promise<string>((resolve, reject) => {
      member.once('message', (d) => resolve(d.toString()));
      member.once('error', reject);
    });
    member.terminate();
    expect(JSON.parse(first)).toMatchObject({ t: 'challenge', protocol: CLUSTER_PROTOCOL });
  });

  it('is absent with cluster: false', async () => {
    const s = await server({ cluster: false });
    expect(s.cluster).toBeUndefined();
    const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/v1/cluster`);
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', reject);
    });
    expect(status).toBe(404);
  });
});
