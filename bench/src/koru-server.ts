/**
 * The KoruDelta server as its own process: `node apps/server/dist/bin.js --port 0 -d DIR`
 * (durable, default options), ready when it prints `koru: serving DIR at URL` on stderr.
 * Its JSON log lines (stdout) are read so warnings and errors it logs under load are
 * reported.
 */
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawnTracked, stopProcess } from './procs.js';

const require = createRequire(import.meta.url);

/** The server's executable (built by `pnpm --filter @koru/server... build`). */
export const SERVER_BIN = join(dirname(require.resolve('@koru/server/package.json')), 'dist', 'bin.js');
/** Its package version, for the results header. */
export const SERVER_VERSION = (require('@koru/server/package.json') as { version: string }).version;

export interface RunningServer {
  readonly pid: number;
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** log lines at warn level or above (pino level ≥ 40), first few kept */
  readonly logProblems: { count: number; first: string[] };
  /** SIGTERM, then waits (SIGKILL after `graceMs`); the exit and how long it took */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; killed: boolean }>;
}

/**
 * Starts the server on a free port serving `dir` (with `extraArgs`, e.g. `--token T`);
 * rejects (and kills it) if it is not ready in `timeoutMs`.
 */
export function startKoruServer(dir: string, timeoutMs = 20_000, extraArgs: readonly string[] = []): Promise<RunningServer> {
  const child = spawnTracked(process.execPath, [SERVER_BIN, '--port', '0', '-d', dir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logProblems = { count: 0, first: [] as string[] };
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const level = /"level":(\d+)/.exec(line);
    if (level !== null && Number(level[1]) >= 40) {
      logProblems.count++;
      if (logProblems.first.length < 3) logProblems.first.push(line.slice(0, 400));
    }
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      void stopProcess(child, 'SIGKILL', 1_000);
      reject(new Error(`the server did not start: ${why}${stderr.trim() !== '' ? `; stderr: ${stderr.trim().slice(0, 600)}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const onError = (e: Error): void => fail(e.message);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited ${code ?? signal}`);
    child.once('error', onError);
    child.once('exit', onExit);
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      stderr += `${line}\n`;
      const m = /^koru: serving .* at (http:\/\/[^\s]+:(\d+))/.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      resolve({
        pid: child.pid!,
        url: m[1]!,
        port: Number(m[2]),
        child,
        logProblems,
        stop: (graceMs = 15_000) => stopProcess(child, 'SIGTERM', graceMs),
      });
    });
  });
}
