/**
 * The PostgreSQL rows of `pnpm bench`: runs `bench:postgres` (../postgres-bench.ts) as a
 * child process, which starts its own private PostgreSQL and writes its own page
 * (results/postgres-<date>.md), and turns the run it hands back into the runner's rows:
 * the worst floor ÷ KoruDelta ratio of puts and of gets over 1, 2 and 4 servers, and the
 * change feed's p99 between two servers.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR } from '../child.js';
import type { PostgresRun, Ratio } from '../postgres-report.js';
import type { Row } from '../rows.js';

/** What postgres-bench.ts sends its parent when it was forked with an IPC channel. */
export interface PostgresRunMessage {
  readonly type: 'postgres-run';
  readonly run: PostgresRun;
  readonly ratios: readonly Ratio[];
  readonly page: string;
}

/** Bound on the whole child (a full run takes about 3 minutes). */
const TIMEOUT_MS = 10 * 60_000;

export async function postgresSection(quick: boolean): Promise<{ rows: Row[]; problems: string[] }> {
  const child = fork(fileURLToPath(new URL('../postgres-bench.ts', import.meta.url)), quick ? ['--quick'] : [], {
    cwd: BENCH_DIR,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let message: PostgresRunMessage | undefined;
  child.on('message', (m) => {
    if ((m as { type?: unknown }).type === 'postgres-run') message = m as PostgresRunMessage;
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS);
  // SIGTERM lets the child stop its PostgreSQL; one that still runs a minute later is killed.
  const hard = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS + 60_000);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  clearTimeout(hard);
  if (message === undefined) {
    return { rows: [], problems: [`postgres: bench:postgres did not finish (${exit.error?.message ?? `exit ${exit.code ?? exit.signal}`})`] };
  }
  const { run, ratios, page } = message;
  const per = (pick: (r: Ratio) => number): string => ratios.map((r) => `${r.n} server${r.n > 1 ? 's' : ''} ${pick(r).toFixed(2)}×`).join(', ');
  const figures = (subject: 'koru' | 'sql', phase: 'put' | 'get'): string =>
    run.measurements
      .filter((m) => m.subject === subject)
      .map((m) => Math.round(m[phase].opsPerSec).toLocaleString('en-US'))
      .join(' / ');
  const see = `results/${page}.md has every figure and what bounds it`;
  return {
    rows: [
      {
        subject: 'koru',
        operation: 'postgres.put.ratio',
        value: Math.max(...ratios.map((r) => r.put)),
        unit: '×',
        notes: `${per((r) => r.put)}; puts/s KoruDelta ${figures('koru', 'put')} vs floor ${figures('sql', 'put')} at 1 / 2 / 4 processes; ${see}`,
      },
      {
        subject: 'koru',
        operation: 'postgres.get.ratio',
        value: Math.max(...ratios.map((r) => r.get)),
        unit: '×',
        notes: `${per((r) => r.get)}; gets/s KoruDelta ${figures('koru', 'get')} vs floor ${figures('sql', 'get')} at 1 / 2 / 4 processes; ${see}`,
      },
      {
        subject: 'koru',
        operation: 'postgres.feed.p99',
        value: run.feed.p99Ms,
        unit: 'ms',
        notes: `${run.feed.seen} of ${run.feed.written} changes seen at ${run.settings.feedRate}/s; p50 ${run.feed.p50Ms} ms, max ${run.feed.maxMs} ms; ${see}`,
      },
    ],
    problems: [],
  };
}
