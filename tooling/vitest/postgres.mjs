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
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  PostgresHarnessError,
  PostgresHarnessErrorCodes,
  SUPERUSER,
  clusterTemplate,
  postgresAvailable,
  postgresBinDir,
  removeTemplate,
  settingLine,
} from './postgres-cluster.mjs';
import { armWatchdog, asServerUser, cleanEnv, fileSize, killAll, killAllSync, privateDir, run, tail } from './postgres-processes.mjs';

export { PostgresHarnessError, PostgresHarnessErrorCodes, postgresAvailable, postgresBinDir } from './postgres-cluster.mjs';
export { serverProcesses } from './postgres-processes.mjs';

const DEFAULT_DATABASE = 'koru';
const DEFAULT_TIMEOUT_MS = 30_000;
// A port can be taken between asking the OS for it and the postmaster binding it.
const PORT_ATTEMPTS = 5;
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

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
      try {
        stopAllSync();
      } finally {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

let databaseCounter = 0;

/**
 * One server and its temporary directory (data directory, log, socket). States:
 * starting → running ⇄ (killed | restarting) → stopping → stopped; stopped is final.
 */
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

  /** The postmaster's pid while running (it is this process's child). */
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
    /** The postmaster's pid while running (it is this process's child). */
  get pid() {
      return server.pid;
    },
    createDatabase: (name) => server.createDatabase(name),
    stop: () => server.stop(),
    kill: () => server.kill(),
    restart: () => server.restart(),
  });
}
