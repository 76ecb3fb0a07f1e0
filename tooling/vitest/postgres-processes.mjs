// Process plumbing of the PostgreSQL harness (postgres.mjs): running the tools as the
// server's account, finding and killing a cluster's processes, and the watchdog.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether this process is root, so the tools must run as the `postgres` account. */
export const isRoot = () => process.getuid?.() === 0;

/** The `postgres` account's uid and gid, or undefined when there is none. */
export function postgresAccount() {
  const id = (flag) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Node's environment minus libpq's PG* variables, which would point the tools elsewhere. */
export function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
}

/** `[command, args]` run as the server's account: `postgres` when this process is root. */
export function asServerUser(command, args) {
  // setpriv execs in place (runuser would fork and wait), so the spawned pid is the program's.
  return isRoot() ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args]] : [command, args];
}

/** Runs a tool to completion within `timeoutMs`; resolves to its exit status and output. */
export function run(command, args, cwd, timeoutMs) {
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

export function fileSize(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export function tail(file, lines = 25) {
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
export async function killAll(dataDir, timeoutMs) {
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
export function killAllSync(dataDir) {
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
export function armWatchdog(binDir, dataDir, dir) {
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
export function privateDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (isRoot()) {
    const account = postgresAccount();
    chownSync(dir, account.uid, account.gid);
  }
  return dir;
}
