// The PostgreSQL harness against real servers: each test starts its own, on a port the OS
// picked, and stops it; the last ones check that nothing is left behind, even when the
// process that started a server exits without stopping it or is SIGKILLed.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresAvailable, serverProcesses, startPostgres } from '@koru/vitest-preset/postgres';

const tool = postgresAvailable();
if (!tool.available) console.log(`[postgres] skipped: ${tool.reason}`);

/** Pids whose command line has `-D <dataDir>` (the postmaster's, pg_ctl's), zombies aside. */
function processesNaming(dataDir) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'Z') continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some((arg, i) => arg === dataDir && args[i - 1] === '-D')) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

async function query(url, sql, params) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Polls `check` every 50 ms until it holds, for at most `ms`. */
async function eventually(check, ms) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

const started = [];
async function start(options) {
  const server = await startPostgres(options);
  started.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe.skipIf(!tool.available)('startPostgres', () => {
  it('starts a private server on loopback with trust auth, C collation and fsync on', async () => {
    const server = await start();
    expect(server.url).toBe(`postgres://koru@127.0.0.1:${server.port}/koru`);
    expect(server.pid).toBeGreaterThan(0);
    expect(processesNaming(server.dataDir)).toEqual([server.pid]);

    await query(server.url, 'CREATE TABLE kv (k text PRIMARY KEY, v jsonb NOT NULL)');
    await query(server.url, 'INSERT INTO kv VALUES ($1, $2), ($3, $4)', ['b', '{"n":2}', 'B', '{"n":1}']);
    // Byte order: upper case before lower case, which a linguistic collation would not give.
    expect(await query(server.url, 'SELECT k, v FROM kv ORDER BY k')).toEqual([
      { k: 'B', v: { n: 1 } },
      { k: 'b', v: { n: 2 } },
    ]);
    const [settings] = await query(
      server.url,
      "SELECT current_setting('listen_addresses') AS listen, current_setting('fsync') AS fsync, current_setting('max_connections') AS conns, current_setting('lc_collate') AS collate, current_setting('server_encoding') AS enc, current_user AS who",
    );
    expect(settings).toEqual({ listen: '127.0.0.1', fsync: 'on', conns: '200', collate: 'C', enc: 'UTF8', who: 'koru' });
  });

  it('createDatabase gives an empty database isolated from the others', async () => {
    const server = await start();
    await query(server.url, 'CREATE TABLE only_here (x int)');
    const a = await server.createDatabase();
    const b = await server.createDatabase();
    const named = await server.createDatabase('named_one');
    expect(new Set([server.url, a, b]).size).toBe(3);
    expect(named).toBe(`postgres://koru@127.0.0.1:${server.port}/named_one`);
    expect(await query(a, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([{ n: 0 }]);
    await query(a, 'CREATE TABLE only_here (x int)');
    await query(a, 'INSERT INTO only_here VALUES (1)');
    expect(await query(server.url, 'SELECT count(*)::int AS n FROM only_here')).toEqual([{ n: 0 }]);
    await expect(query(b, 'SELECT * FROM only_here')).rejects.toThrow(/does not exist/);
    await expect(server.createDatabase('Bad-Name; DROP')).rejects.toMatchObject({ code: 'PG_INVALID_NAME' });
    await expect(server.createDatabase('named_one')).rejects.toThrow(/already exists/);
    // Suites create their databases in parallel.
    const many = await Promise.all(Array.from({ length: 6 }, () => server.createDatabase()));
    expect(new Set(many).size).toBe(6);
  });

  it('kill() is a crash: restart() recovers every committed row on the same port', async () => {
    const server = await start();
    await query(server.url, 'CREATE TABLE log (i int PRIMARY KEY)');
    await query(server.url, 'INSERT INTO log SELECT generate_series(1, 1000)');
    const { port, dataDir } = server;
    const before = server.pid;

    await server.kill();
    expect(server.pid).toBeUndefined();
    expect(serverProcesses(dataDir)).toEqual([]);
    expect(processesNaming(dataDir)).toEqual([]);
    expect(existsSync(dataDir)).toBe(true);
    await expect(query(server.url, 'SELECT 1')).rejects.toThrow();
    await expect(server.createDatabase()).rejects.toMatchObject({ code: 'PG_NOT_RUNNING' });

    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(before);
    expect(await query(server.url, 'SELECT count(*)::int AS n, max(i) AS m FROM log')).toEqual([{ n: 1000, m: 1000 }]);
    // The restart went through WAL replay, not a clean start.
    expect(readFileSync(server.logFile, 'utf8')).toMatch(/not properly shut down; automatic recovery in progress/);

    // A restart of a running server is a clean one and keeps the data too.
    await server.restart();
    expect(await query(server.url, 'SELECT count(*)::int AS n FROM log')).toEqual([{ n: 1000 }]);
  });

  it('stop() leaves no process of the data directory, removes it, and is idempotent', async () => {
    const server = await start();
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    c.on('error', () => {});
    // A connected backend: stop() must take it down too.
    expect(serverProcesses(server.dataDir).length).toBeGreaterThan(1);
    const { dataDir } = server;
    await server.stop();
    expect(serverProcesses(dataDir)).toEqual([]);
    expect(processesNaming(dataDir)).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
    expect(server.pid).toBeUndefined();
    await server.stop();
    await expect(server.restart()).rejects.toMatchObject({ code: 'PG_NOT_RUNNING' });
    await c.end().catch(() => {});
  });

  it('two servers at once get different ports and separate data', async () => {
    const [one, two] = await Promise.all([start(), start()]);
    expect(one.port).not.toBe(two.port);
    expect(one.dataDir).not.toBe(two.dataDir);
    await query(one.url, 'CREATE TABLE t (x int)');
    await expect(query(two.url, 'SELECT * FROM t')).rejects.toThrow(/does not exist/);
  });

  it('rejects bad settings (with the server log when PostgreSQL does), and takes good ones', async () => {
    await expect(startPostgres({ settings: { 'bad name': 1 } })).rejects.toMatchObject({ code: 'PG_INVALID_SETTING' });
    await expect(startPostgres({ database: 'No' })).rejects.toMatchObject({ code: 'PG_INVALID_NAME' });
    // A server that cannot start fails with its log's tail, and leaves nothing behind.
    const failure = await startPostgres({ settings: { shared_buffers: 'lots' } }).catch((error) => error);
    expect(failure).toMatchObject({ code: 'PG_START_FAILED' });
    expect(failure.message).toMatch(/invalid value for parameter "shared_buffers"/);
    const server = await start({ database: 'app', settings: { work_mem: '8MB' } });
    expect(server.url.endsWith('/app')).toBe(true);
    expect(await query(server.url, "SELECT current_setting('work_mem') AS w")).toEqual([{ w: '8MB' }]);
  });

  // A process that starts a server and then ends without stop(): by exiting or by SIGTERM
  // (as vitest ends its workers; the hooks kill the server before the process is gone) or
  // by SIGKILL (the watchdog does, a moment later). Either way nothing is left.
  for (const ending of ['exit', 'SIGTERM', 'SIGKILL']) {
    it(`a process that ends by ${ending} without stop() leaves no server behind`, async () => {
      const script = `
        import { startPostgres } from '@koru/vitest-preset/postgres';
        const server = await startPostgres();
        console.log(JSON.stringify({ pid: server.pid, dataDir: server.dataDir }));
        // Held until the test has looked; then 'exit' lets the event loop run dry.
        ${ending === 'exit' ? "process.stdin.once('data', () => process.stdin.destroy());" : 'setInterval(() => {}, 1000);'}
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname, stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
      const line = await new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.on('exit', () => reject(new Error(`the child exited before starting a server: ${out}`)));
        // Bounded, and a child that hangs is not left running.
        setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`no server within 60 s: ${out}`));
        }, 60_000).unref();
      });
      let dataDir;
      try {
        const started = JSON.parse(line);
        dataDir = started.dataDir;
        expect(processesNaming(dataDir)).toEqual([started.pid]);
      } finally {
        if (ending === 'exit') child.stdin.end('go\n');
        else child.kill(ending);
      }
      // The SIGTERM hook re-raises the signal once it has cleaned up.
      expect(await exited).toBe(ending === 'exit' ? 0 : ending);
      if (ending !== 'SIGKILL') {
        // The hooks are synchronous: by the time the child is gone, so is its server.
        expect(serverProcesses(dataDir)).toEqual([]);
        expect(existsSync(dataDir)).toBe(false);
      }
      // The watchdog, which does the work after a SIGKILL, needs a moment.
      const gone = await eventually(() => processesNaming(dataDir).length === 0 && serverProcesses(dataDir).length === 0 && !existsSync(dataDir), 30_000);
      expect(gone, `processes ${processesNaming(dataDir)} or ${dataDir} left behind`).toBe(true);
    });
  }
});
