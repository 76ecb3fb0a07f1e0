// A private, throwaway PostgreSQL server for tests: Debian's binaries, a temporary
// directory, a port the OS picked on 127.0.0.1, trust auth. Nothing it starts outlives
// the test process: exit and signal hooks (vitest ends its fork workers with SIGTERM)
// kill what is still running, and each server has a watchdog shell that cleans up after
// deaths no hook sees (SIGKILL, a worker thread that vitest terminates).
//
// The postmaster is this process's own child (not pg_ctl's): on a machine whose PID 1
// does not reap orphans, a postmaster that pg_ctl started and kill() then SIGKILLed
// would stay a zombie, and PostgreSQL refuses to start on a data directory whose
// postmaster.pid names a process that still answers kill(pid, 0).
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { systemTool } from './helpers.mjs';

const PG_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'koru';
const DEFAULT_DATABASE = 'koru';
const DEFAULT_TIMEOUT_MS = 30_000;
// A port can be taken between asking the OS for it and the postmaster binding it.
const PORT_ATTEMPTS = 5;
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;

/** The codes a {@link PostgresHarnessError} carries. */
export const PostgresHarnessErrorCodes = Object.freeze({
  /** No PostgreSQL binaries (or, as root, no `postgres` user) and none could be installed. */
  UNAVAILABLE: 'PG_UNAVAILABLE',
  /** initdb failed. */
  INITDB_FAILED: 'PG_INITDB_FAILED',
  /** The server exited, or did not accept connections in time. */
  START_FAILED: 'PG_START_FAILED',
  /** A database name that is not a lower-case identifier of 1 to 63 characters. */
  INVALID_NAME: 'PG_INVALID_NAME',
  /** A server setting whose name or value cannot be written to postgresql.conf. */
  INVALID_SETTING: 'PG_INVALID_SETTING',
  /** The server is not running (killed, or stopped for good). */
  NOT_RUNNING: 'PG_NOT_RUNNING',
});

/**
 * Why the harness failed. (Not a KoruError: the preset depends on no KoruDelta package,
 * so every package, the engine included, can use it without a cycle.)
 */
export class PostgresHarnessError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'PostgresHarnessError';
    this.code = code;
  }
}

/** The newest `/usr/lib/postgresql/<major>/bin` holding initdb, pg_ctl and postgres, or undefined. */
export function postgresBinDir() {
  if (!existsSync(PG_ROOT)) return undefined;
  const majors = readdirSync(PG_ROOT)
    .filter((v) => /^\d+$/.test(v) && ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(PG_ROOT, v, 'bin', b))))
    .map(Number)
    .sort((a, b) => b - a);
  return majors.length > 0 ? join(PG_ROOT, String(majors[0]), 'bin') : undefined;
}

const isRoot = () => process.getuid?.() === 0;

/** The `postgres` account's uid and gid, or undefined when there is none. */
function postgresAccount() {
  const id = (flag) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

let availability;

/**
 * Whether servers can be started here: Debian's PostgreSQL binaries, and as root the
 * unprivileged `postgres` account (initdb refuses to run as root). Installs Debian's
 * `postgresql` when missing and allowed; under CI=true still missing throws, else
 * `reason` is one line for the caller to print before `describe.skipIf(!available)`.
 * Checked once per process.
 *
 * @returns {{ available: true } | { available: false, reason: string }}
 */
export function postgresAvailable() {
  availability ??= systemTool({
    name: `PostgreSQL (${PG_ROOT}/<major>/bin${isRoot() ? ' and the postgres account' : ''})`,
    present: () => postgresBinDir() !== undefined && (!isRoot() || postgresAccount() !== undefined),
    apt: 'postgresql',
  });
  return availability;
}

/** Node's environment minus libpq's PG* variables, which would point the tools elsewhere. */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
}

/** `[command, args]` run as the server's account: `postgres` when this process is root. */
function asServerUser(command, args) {
  // setpriv execs in place (runuser would fork and wait), so the spawned pid is the program's.
  return isRoot() ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args]] : [command, args];
}

/** Runs a tool to completion within `timeoutMs`; resolves to its exit status and output. */
function run(command, args, cwd, timeoutMs) {
  const [cmd, argv] = asServerUser(command, args);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: -1, output: `${output}\n${error.message}` });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output: output.trim() });
    });
  });
}

/** A port that was free on 127.0.0.1 a moment ago, as the OS handed it out. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function fileSize(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function tail(file, lines = 25) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

/**
 * Pids of the live processes working in `dataDir`: the postmaster and every backend and
 * helper it forked, found by their working directory (PostgreSQL changes into its data
 * directory and its children inherit that), so even children orphaned by a killed
 * postmaster are found. Linux /proc only.
 *
 * @param {string} dataDir
 * @returns {number[]}
 */
export function serverProcesses(dataDir) {
  let real = dataDir;
  try {
    real = realpathSync(dataDir);
  } catch {}
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd !== real && cwd !== `${real} (deleted)`) continue;
      // A zombie has exited already; it only waits for a parent to reap it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to inspect.
    }
  }
  return found;
}

/** SIGKILLs every process of `dataDir` until none is left, within `timeoutMs`. */
async function killAll(dataDir, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = serverProcesses(dataDir);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} of ${dataDir} survived SIGKILL for ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The same, synchronously, for the exit and signal hooks (5 s at most). */
function killAllSync(dataDir) {
  const deadline = Date.now() + 5_000;
  for (let pids = serverProcesses(dataDir); pids.length > 0 && Date.now() < deadline; pids = serverProcesses(dataDir)) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

// Runs when this process dies without calling stop(). $1 data dir, $2 temp dir, then the
// pg_ctl command line. Reading stdin returns at EOF, which comes when the test process is
// gone however it died; stop() writes "stopped" first and the watchdog just exits.
const WATCHDOG = `
read -r word
[ "$word" = stopped ] && exit 0
data=$1; dir=$2; shift 2
"$@" stop -D "$data" -m immediate -w -t 10 >/dev/null 2>&1
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) &&
  tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$data" &&
  kill -9 "$pid" 2>/dev/null
rm -rf "$dir"
`;

/**
 * Starts the watchdog of `dir` (holding the cluster `dataDir`): a shell in its own session
 * that stops the server and removes `dir` once this process is gone, unless told "stopped".
 */
function armWatchdog(binDir, dataDir, dir) {
  const [cmd, argv] = asServerUser(join(binDir, 'pg_ctl'), []);
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'koru-pg-watchdog', dataDir, dir, cmd, ...argv], {
    cwd: '/',
    env: cleanEnv(),
    // Its own session: a Ctrl-C to the test run must not kill it before it cleans up.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.unref();
  watchdog.stdin.unref();
  // Writing "stopped" to a watchdog that is already gone must not crash the test process.
  watchdog.stdin.on('error', () => {});
  watchdog.on('error', () => {});
  return watchdog;
}

/** A new private temporary directory, owned by the server's account. */
function privateDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (isRoot()) {
    const account = postgresAccount();
    chownSync(dir, account.uid, account.gid);
  }
  return dir;
}

/** This process's template cluster, made by initdb once and copied for every server: its data directory. */
let template;
/** Its temporary directory and watchdog, while it exists. */
let templateHome;

function clusterTemplate(binDir) {
  template ??= (async () => {
    const dir = privateDir('koru-pg-template-');
    const dataDir = join(dir, 'data');
    templateHome = { dir, watchdog: armWatchdog(binDir, dataDir, dir) };
    // C collation (--no-locale): text compares by bytes, the order KoruDelta's keys use.
    // --no-sync: initdb's closing fsync only guards against the machine crashing right
    // now; the servers themselves run with fsync on.
    const { status, output } = await run(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-A', 'trust', '-U', SUPERUSER, '--no-locale', '-E', 'UTF8', '--no-sync', '--no-instructions'],
      dir,
      60_000,
    );
    if (status !== 0) {
      removeTemplate();
      throw new PostgresHarnessError(PostgresHarnessErrorCodes.INITDB_FAILED, `initdb failed (exit ${status}):\n${output}`);
    }
    return dataDir;
  })();
  return template;
}

function removeTemplate() {
  if (templateHome === undefined) return;
  rmSync(templateHome.dir, { recursive: true, force: true });
  templateHome.watchdog.stdin.end('stopped\n');
  templateHome = undefined;
  template = undefined;
}

/** Servers started by this process and not stopped yet. */
const live = new Set();
let exitHookInstalled = false;

function stopAllSync() {
  for (const server of live) server.stopSync();
  removeTemplate();
}

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', stopAllSync);
  // vitest ends a forks-pool worker with SIGTERM and SIGKILLs it 500 ms later, and a
  // signal's default action skips 'exit'. So: clean up, then let the signal do what it
  // would have done without this listener.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    const onSignal = () => {
      stopAllSync();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

let databaseCounter = 0;

function settingLine(name, value) {
  const text = String(value);
  if (!SETTING_NAME.test(name) || /[\n\r\0]/.test(text)) {
    throw new PostgresHarnessError(PostgresHarnessErrorCodes.INVALID_SETTING, `invalid server setting ${JSON.stringify(name)} = ${JSON.stringify(text)}`);
  }
  return `${name} = '${text.replaceAll("'", "''")}'`;
}

class Server {
  #binDir;
  #dir;
  #watchdog;
  #child;
  #exited;
  #state = 'starting';
  #stopping;
  #timeoutMs;

  constructor(binDir, dir, timeoutMs) {
    this.#binDir = binDir;
    this.#dir = dir;
    this.#timeoutMs = timeoutMs;
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'server.log');
    this.port = 0;
    this.url = '';
  }

  get pid() {
    return this.#state === 'running' ? this.#child?.pid : undefined;
  }

  /** Starts the watchdog before anything else exists, so a death at any later point is covered. */
  armWatchdog() {
    this.#watchdog = armWatchdog(this.#binDir, this.dataDir, this.#dir);
  }

  /** A copy of this process's template cluster, configured; copying beats a fresh initdb by seconds. */
  async initdb(settings) {
    const template = await clusterTemplate(this.#binDir);
    const { status, output } = await run('cp', ['-a', template, this.dataDir], this.#dir, 60_000);
    if (status !== 0) throw new PostgresHarnessError(PostgresHarnessErrorCodes.INITDB_FAILED, `copying the template cluster failed (exit ${status}):\n${output}`);
    const conf = {
      listen_addresses: '127.0.0.1',
      // The socket stays in the private directory: no clash with a system server's /var/run one.
      unix_socket_directories: this.#dir,
      // Durability stays real: kill() and restart() test crash recovery against it.
      fsync: 'on',
      synchronous_commit: 'on',
      full_page_writes: 'on',
      shared_buffers: '16MB',
      // Tests start several servers, each with a pool.
      max_connections: 200,
      ...settings,
    };
    const lines = Object.entries(conf).map(([k, v]) => settingLine(k, v));
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `\n# @koru/vitest-preset/postgres\n${lines.join('\n')}\n`);
  }

  /** Starts the postmaster on `port`; resolves true when it accepts connections, false when the port was taken. */
  async launch(port) {
    const [cmd, argv] = asServerUser(join(this.#binDir, 'postgres'), ['-D', this.dataDir, '-p', String(port)]);
    // Only this start's lines decide whether its port was taken.
    const logStart = fileSize(this.logFile);
    const log = openSync(this.logFile, 'a');
    let child;
    try {
      child = spawn(cmd, argv, { cwd: this.#dir, env: cleanEnv(), stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    // A forgotten server must not keep the test process alive; the exit hook stops it.
    child.unref();
    let exitCode;
    const exited = new Promise((resolve) => {
      child.on('error', (error) => {
        exitCode = error.message;
        resolve();
      });
      child.on('exit', (code, signal) => {
        exitCode = signal ?? code;
        resolve();
      });
    });
    this.#child = child;
    this.#exited = exited;
    this.port = port;

    const deadline = Date.now() + this.#timeoutMs;
    let lastError;
    while (exitCode === undefined) {
      try {
        const client = await this.#connect('postgres');
        await client.end();
        this.#state = 'running';
        return true;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        await this.#killServer();
        throw new PostgresHarnessError(
          PostgresHarnessErrorCodes.START_FAILED,
          `PostgreSQL on port ${port} did not accept connections within ${this.#timeoutMs} ms (last: ${lastError?.message}); server log:\n${tail(this.logFile)}`,
        );
      }
      await Promise.race([exited, sleep(50)]);
    }
    const output = readFileSync(this.logFile).subarray(logStart).toString('utf8');
    if (/could not bind|address already in use/i.test(output)) return false;
    throw new PostgresHarnessError(PostgresHarnessErrorCodes.START_FAILED, `PostgreSQL exited (${exitCode}) while starting; server log:\n${tail(this.logFile)}`);
  }

  async #connect(database) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: SUPERUSER,
      database,
      // Explicit, so a PGSSLMODE or PGPASSWORD in the environment changes nothing.
      ssl: false,
      password: '',
      connectionTimeoutMillis: 5_000,
    });
    // A server that dies while the client idles emits 'error'; the caller sees the failed call.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    return client;
  }

  urlOf(database) {
    return `postgres://${SUPERUSER}@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name = `koru_test_${++databaseCounter}`) {
    if (typeof name !== 'string' || !DATABASE_NAME.test(name)) {
      throw new PostgresHarnessError(PostgresHarnessErrorCodes.INVALID_NAME, `database name ${JSON.stringify(name)} is not a lower-case identifier of 1 to 63 characters`);
    }
    this.#requireRunning('createDatabase');
    const client = await this.#connect('postgres');
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } finally {
      await client.end().catch(() => {});
    }
    return this.urlOf(name);
  }

  #requireRunning(what) {
    if (this.#state !== 'running') {
      throw new PostgresHarnessError(PostgresHarnessErrorCodes.NOT_RUNNING, `${what}: the server on port ${this.port} is ${this.#state}`);
    }
  }

  /** SIGKILL to the postmaster and every process it forked; resolves once all are gone. */
  async #killServer() {
    try {
      this.#child?.kill('SIGKILL');
    } catch {}
    await this.#childExit();
    await killAll(this.dataDir, 10_000);
  }

  /** Waits for the postmaster to exit, keeping this process alive meanwhile (the child is unref'd). */
  async #childExit() {
    if (!this.#child) return;
    this.#child.ref();
    try {
      await this.#exited;
    } finally {
      this.#child.unref();
    }
  }

  async kill() {
    if (this.#state !== 'running') return;
    this.#state = 'killed';
    await this.#killServer();
  }

  /** pg_ctl stop -m fast; SIGKILL when it does not finish in time. */
  async #shutdown() {
    const { status } = await run(join(this.#binDir, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', String(Math.ceil(this.#timeoutMs / 1000))], this.#dir, this.#timeoutMs + 5_000);
    if (status !== 0) await this.#killServer();
    await this.#childExit();
    await killAll(this.dataDir, 10_000);
  }

  async restart() {
    if (this.#state === 'stopped' || this.#state === 'stopping') {
      throw new PostgresHarnessError(PostgresHarnessErrorCodes.NOT_RUNNING, `restart: the server on port ${this.port} was stopped and its directory removed`);
    }
    if (this.#state === 'running') {
      this.#state = 'restarting';
      await this.#shutdown();
    }
    this.#state = 'starting';
    if (!(await this.launch(this.port))) {
      this.#state = 'killed';
      throw new PostgresHarnessError(PostgresHarnessErrorCodes.START_FAILED, `restart: port ${this.port} is taken by another process; server log:\n${tail(this.logFile)}`);
    }
  }

  stop() {
    this.#stopping ??= (async () => {
      const wasRunning = this.#state === 'running';
      this.#state = 'stopping';
      try {
        if (wasRunning) await this.#shutdown();
        else await this.#killServer();
      } finally {
        this.#disarm();
      }
    })();
    return this.#stopping;
  }

  /** For the exit hook, which must be synchronous. */
  /**
   * For the exit and signal hooks: synchronous, and quick enough for vitest's 500 ms
   * between SIGTERM and SIGKILL. SIGKILL, not a shutdown: the data is thrown away next.
   */
  stopSync() {
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    killAllSync(this.dataDir);
    this.#disarm();
  }

  #disarm() {
    rmSync(this.#dir, { recursive: true, force: true });
    this.#watchdog?.stdin.end('stopped\n');
    this.#state = 'stopped';
    live.delete(this);
  }
}

/**
 * Starts a private PostgreSQL server: a fresh cluster (initdb, C collation, UTF-8) in a
 * new temporary directory, listening on 127.0.0.1 only, on a port the OS picked, with
 * trust auth for the superuser `koru`, and a fresh database (`koru` unless
 * `options.database` says otherwise). Resolves once it accepts connections; rejects
 * within `options.timeoutMs` (30 s) with the server log's tail. As root, the server runs
 * as the `postgres` account. Call `stop()` when done; a server still running when the
 * process exits is stopped then, and one whose process is SIGKILLed is stopped by its
 * watchdog.
 *
 * @param {{ database?: string, settings?: Readonly<Record<string, string | number | boolean>>, timeoutMs?: number }} [options]
 */
export async function startPostgres(options = {}) {
  const availableNow = postgresAvailable();
  if (!availableNow.available) throw new PostgresHarnessError(PostgresHarnessErrorCodes.UNAVAILABLE, availableNow.reason);
  const database = options.database ?? DEFAULT_DATABASE;
  if (typeof database !== 'string' || !DATABASE_NAME.test(database)) {
    throw new PostgresHarnessError(PostgresHarnessErrorCodes.INVALID_NAME, `database name ${JSON.stringify(database)} is not a lower-case identifier of 1 to 63 characters`);
  }
  const settings = options.settings ?? {};
  for (const [k, v] of Object.entries(settings)) settingLine(k, v);
  const binDir = postgresBinDir();
  const dir = privateDir('koru-pg-');
  const server = new Server(binDir, dir, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  installExitHook();
  live.add(server);
  server.armWatchdog();
  try {
    await server.initdb(settings);
    let started = false;
    for (let attempt = 0; attempt < PORT_ATTEMPTS && !started; attempt++) started = await server.launch(await freePort());
    if (!started) {
      throw new PostgresHarnessError(PostgresHarnessErrorCodes.START_FAILED, `every one of ${PORT_ATTEMPTS} free ports was taken before PostgreSQL could bind it; server log:\n${tail(server.logFile)}`);
    }
    server.url = await server.createDatabase(database);
  } catch (error) {
    await server.stop();
    throw error;
  }
  // The handle tests get: the Server's own setup methods stay out of reach.
  return Object.freeze({
    url: server.url,
    port: server.port,
    dataDir: server.dataDir,
    logFile: server.logFile,
    get pid() {
      return server.pid;
    },
    createDatabase: (name) => server.createDatabase(name),
    stop: () => server.stop(),
    kill: () => server.kill(),
    restart: () => server.restart(),
  });
}
