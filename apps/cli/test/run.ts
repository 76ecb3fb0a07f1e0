// Runs the built kdelta binary as a child process (not a test file itself).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@koru/vitest-preset/helpers';

/** The built executable. */
export const BIN = fileURLToPath(new URL('../dist/kdelta.js', import.meta.url));

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of a run: no colours forced, no inherited database path. */
function envFor(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KORU_DB_PATH;
  delete env.KORU_STORE;
  delete env.FORCE_COLOR;
  return { ...env, ...extra };
}

/** Starts kdelta with `args`; the caller owns the process. */
export function start(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: envFor(options.env ?? {}), cwd: options.cwd ?? process.cwd(), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs kdelta to completion (killed after `timeoutMs`), feeding `input` to stdin. */
export function kdelta(args: readonly string[], options: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  const child = start(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** kdelta bound to a fresh database directory (`-d DIR/db`, run in DIR). */
export interface FreshDatabase {
  readonly dir: string;
  readonly k: (...args: string[]) => Promise<Run>;
  readonly kIn: (input: string, ...args: string[]) => Promise<Run>;
}

/** A fresh database directory and runners bound to it; its removal goes on `cleanups`. */
export function freshDatabase(cleanups: Array<() => void>, prefix = 'kdelta-'): FreshDatabase {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  const db = join(t.dir, 'db');
  return {
    dir: t.dir,
    k: (...args) => kdelta(['-d', db, ...args], { cwd: t.dir }),
    kIn: (input, ...args) => kdelta(['-d', db, ...args], { cwd: t.dir, input }),
  };
}

/** A `kdelta start` serving `dbPath` on a random port, no token: its URL, and `stop` (SIGTERM, waits for the exit). */
export async function serveDatabase(dbPath: string, cwd: string): Promise<{ readonly url: string; readonly stop: () => Promise<void> }> {
  const proc = start(['-d', dbPath, 'start', '--port', '0'], { env: { KORU_TOKEN: '', KORU_PORT: '', PORT: '' }, cwd });
  const gone = new Promise((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once('exit', r)));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await gone;
  };
  let err = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not start: ${err}`)), 20_000);
      proc.once('exit', (code) => reject(new Error(`exited ${String(code)} before serving: ${err}`)));
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const m = /serving \S+ at (http:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    return { url, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
