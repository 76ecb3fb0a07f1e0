/**
 * Processes the server rows start (the KoruDelta server, redis-server): every one is
 * registered so the runner kills it on failure, Ctrl-C or exit, by its own pid. And
 * what Linux says about a process: resident memory and CPU time.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const started = new Set<ChildProcess>();

/** Spawns a process and registers it until it exits. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, [...args], options);
  started.add(child);
  child.once('exit', () => started.delete(child));
  // A failure to spawn is reported by whoever waits on the process; never an uncaught 'error'.
  child.on('error', () => started.delete(child));
  return child;
}

/** SIGKILLs every process spawnTracked started that is still running. Safe in an 'exit' handler. */
export function killTracked(): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  started.clear();
}

process.once('exit', killTracked);

/** Resolves with how a process ended (at once if it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs.
 * Resolves with the exit, how long it took, and whether it had to be killed.
 */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; killed: boolean }> {
  const t0 = performance.now();
  const done = exited(child);
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
  const first = await Promise.race([done, timeout]);
  clearTimeout(timer);
  if (first !== 'timeout') return { ...first, ms: performance.now() - t0, killed: false };
  child.kill('SIGKILL');
  return { ...(await done), ms: performance.now() - t0, killed: true };
}

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status); undefined where there is no /proc. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU time (user + system) `pid` has used, in ms; undefined where there is no /proc. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces), which ends at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of all CPUs together (/proc/stat); undefined where there is no /proc. */
function cpuTotals(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - fields[4]!, total };
  } catch {
    return undefined;
  }
}

/**
 * Starts measuring how busy the whole machine is; the returned function gives the share of
 * all cores busy since (0–100 %), NaN where there is no /proc. Beside the per-process figures it
 * shows kernel network work and anything else running.
 */
export function machineBusy(): () => number {
  const t0 = cpuTotals();
  return () => {
    const t1 = cpuTotals();
    if (t0 === undefined || t1 === undefined || t1.total === t0.total) return Number.NaN;
    return ((t1.busy - t0.busy) * 100) / (t1.total - t0.total);
  };
}
