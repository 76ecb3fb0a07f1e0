/**
 * Child processes: every subject runs in its own node (fresh JIT and heap, a crash or
 * a missing build costs only that column), and memory is read in a process of its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killTracked } from './procs.js';

/** The bench package directory (children resolve `tsx` from here). */
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

const active = new Set<ChildProcess>();

/** Outcome of a child run. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
}

/**
 * Runs `src/<module>` under node --expose-gc with tsx, passing `arg` as JSON in argv[2];
 * every IPC message goes to `onMessage`. Killed (by its own pid) after `timeoutMs`.
 */
export function runChild(module: string, arg: unknown, onMessage: (message: unknown) => void, timeoutMs: number): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL(module, import.meta.url)), [JSON.stringify(arg)], {
      cwd: BENCH_DIR,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    active.add(child);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('error', (error) => {
      clearTimeout(timer);
      active.delete(child);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      active.delete(child);
      resolve({ code, signal, timedOut });
    });
  });
}

/** Kills the children this process started (on Ctrl-C). */
export function killChildren(): void {
  for (const child of active) child.kill('SIGKILL');
}

/**
 * A scratch directory for a standalone run, and the clean-up that kills every process the
 * run started and removes the directory; the clean-up also runs on SIGINT and SIGTERM.
 */
export async function scratchRun(prefix: string): Promise<{ root: string; cleanUp: () => void }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const cleanUp = (): void => {
    killChildren();
    killTracked();
    rmSync(root, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      cleanUp();
      process.exit(130);
    });
  }
  return { root, cleanUp };
}

/** Sends `message` to the parent and resolves once it is handed over. */
export function sendToParent(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined) {
      reject(new Error('not started as a bench child process (no IPC channel)'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}
