// Shared set-up of the multi-process tests (not a test file itself): a private PostgreSQL
// per test file, real `kdelta start --store URL --port 0` processes on it (127.0.0.1, a
// port the OS picked, read from the ready line), clients, and the clean-up of everything
// a test started.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { KoruClient } from '@koru/client';
import { postgresAvailable, startPostgres } from '@koru/vitest-preset/postgres';
import { afterAll, afterEach, beforeAll } from 'vitest';

const require = createRequire(import.meta.url);
const KDELTA = join(dirname(require.resolve('kdelta/package.json')), 'dist', 'kdelta.js');

const tool = postgresAvailable();
/** False (the one-line reason printed) where PostgreSQL cannot be started; never under CI=true. */
export const available = tool.available;
if (!tool.available) console.log(`[postgres-test] skipped: ${tool.reason}`);

/** The environment of a kdelta process: nothing of the caller's saying where data or servers are. */
const CLEAN_ENV = { KORU_TOKEN: '', KORU_TOKEN_FILE: '', KORU_PORT: '', PORT: '', KORU_DB_PATH: '', KORU_URL: '', KORU_STORE: '', KORU_CLUSTER_KEY: '', KORU_LOG_LEVEL: 'warn', NO_COLOR: '1' };

/**
 * Starts `kdelta start --store STORE --port 0`; resolves once it serves, to
 * `{ url, pid, exited, kill(signal), stop() }`. `stop` sends SIGTERM and waits for the
 * exit (SIGKILL after 10 s); `kill('SIGKILL')` is a crash.
 */
export async function startKdelta(store) {
  const proc = spawn(process.execPath, [KDELTA, 'start', '--store', store, '--port', '0', '--no-console'], { env: { ...process.env, ...CLEAN_ENV }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve(proc.exitCode ?? proc.signalCode) : proc.once('exit', (code, signal) => resolve(code ?? signal))));
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kdelta start did not serve in 30 s: ${err}`)), 30_000);
      proc.once('exit', (code) => reject(new Error(`kdelta start exited ${String(code)}: ${err}`)));
      const look = () => {
        const m = /serving \S+ at (http:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      proc.stderr.on('data', look);
    });
    return { url, pid: proc.pid, exited, stderr: () => err, kill: (signal) => proc.kill(signal), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The harness of one test file: a PostgreSQL started before its tests (where available),
 * and `track(x)` registering a kdelta process or a client to end after each test.
 * `suite.pg` is the server; `suite.servers(n, store)` starts n kdelta processes.
 */
export function usePostgres() {
  const suite = { pg: undefined, owned: [] };
  beforeAll(async () => {
    if (available) suite.pg = await startPostgres();
  });
  afterEach(async () => {
    // Clients first (they would reconnect to servers going away), then the processes.
    for (const x of suite.owned.splice(0).reverse()) await (x.close?.() ?? x.stop()).catch(() => {});
  });
  afterAll(async () => {
    await suite.pg?.stop();
  });
  const started = [];
  suite.servers = async (n, store) => {
    const servers = await Promise.all(Array.from({ length: n }, () => startKdelta(store)));
    suite.owned.unshift(...servers);
    started.push(...servers);
    return servers;
  };
  /** Rethrows `e` after printing what the servers said (a crash shows there, not in the client's error). */
  suite.explain = (e) => {
    for (const s of started) console.log(`[postgres-test] kdelta ${s.pid} stderr:\n${s.stderr()}`);
    throw e;
  };
  suite.client = async (url, options = {}) => {
    const client = await KoruClient.connect(url, options);
    suite.owned.push(client);
    return client;
  };
  return suite;
}

/** The error's code, or undefined for something that is not a KoruError. */
export const codeOf = (e) => (e !== null && typeof e === 'object' && typeof e.code === 'string' ? e.code : undefined);

/** Polls `check` every 50 ms until it holds; throws after `ms`. */
export async function eventually(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
