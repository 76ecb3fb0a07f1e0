/**
 * One "server" of `pnpm bench:postgres` (./postgres-bench.ts): a process of its own that
 * opens its subject and runs what the parent asks over IPC, a phase at a time, so every
 * process of a measurement starts a phase together and the figures add up.
 *
 * Subjects: `koru` (KoruDelta on the PostgreSQL store), `sql` (the floor: plain SQL
 * through `pg`, a Pool as large as KoruDelta's), `embedded` (KoruDelta on a directory,
 * `sync: 'always'`). Phases: `put` (distinct keys) and `get` (keys this process wrote),
 * each with `concurrency` operations outstanding; `feed-write` and `feed-read` for the
 * change-feed latency between two processes on one store.
 */
import { KoruDelta } from '@koru/delta';
import pg from 'pg';
import { sendToParent } from './child.js';

/** What the parent passes in argv[2]. */
export interface WorkerArgs {
  readonly subject: 'koru' | 'sql' | 'embedded';
  /** postgres:// URL (koru, sql) or a directory (embedded). */
  readonly target: string;
  /** Number of this process in its measurement: its keys are `p<id>-<n>`. */
  readonly id: number;
  /** Connections of the pool: KoruDelta's default, for the floor too. */
  readonly poolSize: number;
  /** Keys `p<id>-0` … `p<id>-(written - 1)` exist (written by an earlier process): what gets read. */
  readonly written: number;
}

/** A phase the parent starts. */
export type WorkerCommand =
  | { readonly type: 'put' | 'get'; readonly concurrency: number; readonly warmupMs: number; readonly durationMs: number }
  | { readonly type: 'feed-write'; readonly rate: number; readonly durationMs: number }
  | { readonly type: 'feed-read'; readonly expect: number; readonly timeoutMs: number }
  | { readonly type: 'close' };

/** What a worker reports. */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'subscribed' }
  | {
      readonly type: 'phase';
      readonly phase: 'put' | 'get';
      /** Operations started inside the measured window (after the warm-up). */
      readonly ops: number;
      readonly errors: number;
      readonly firstError?: string;
      /** The measured window, ms. */
      readonly windowMs: number;
      /** Latency of every measured operation, µs (rounded). */
      readonly latencyUs: number[];
      /** CPU time of this process over the measured window, ms (user + system). */
      readonly cpuMs: number;
      /** Keys this process has written so far (warm-up included). */
      readonly written: number;
    }
  | { readonly type: 'feed-written'; readonly sentAt: number[]; readonly ackedAt: number[]; readonly errors: number }
  | { readonly type: 'feed-seen'; readonly index: number[]; readonly receivedAt: number[]; readonly latencyMs: number[] }
  | { readonly type: 'failed'; readonly message: string };

const NAMESPACE = 'bench';
const FEED_NAMESPACE = 'feed';

/** The store a worker measures: a put and a get, each a durable, awaited call. */
interface Subject {
  put(key: string, value: object): Promise<unknown>;
  get(key: string): Promise<unknown>;
  close(): Promise<void>;
  readonly db?: KoruDelta;
}

async function open(args: WorkerArgs): Promise<Subject> {
  if (args.subject === 'sql') {
    const pool = new pg.Pool({ connectionString: args.target, max: args.poolSize, application_name: 'koru-bench-floor' });
    pool.on('error', () => undefined);
    // Named statements, as the store's: each connection parses them once.
    return {
      put: (key, value) => pool.query({ name: 'floor-put', text: 'INSERT INTO floor (key, doc) VALUES ($1, $2)', values: [key, JSON.stringify(value)] }),
      get: async (key) => {
        const r = await pool.query<{ doc: unknown }>({ name: 'floor-get', text: 'SELECT doc FROM floor WHERE key = $1', values: [key] });
        if (r.rows.length !== 1) throw new Error(`floor: no row for ${key}`);
        return r.rows[0]!.doc;
      },
      close: () => pool.end(),
    };
  }
  const db = args.subject === 'koru' ? await KoruDelta.start({ store: args.target, maxConnections: args.poolSize }) : await KoruDelta.start({ path: args.target, sync: 'always' });
  return {
    db,
    put: (key, value) => db.put(NAMESPACE, key, value),
    get: (key) => db.get(NAMESPACE, key),
    close: () => db.close(),
  };
}

/** A value of about 100 bytes of JSON, different for every key. */
function valueOf(id: number, n: number): object {
  return { n, owner: `process-${id}`, name: `User ${n} of ${id}`, tags: ['bench', 'put'], score: (n * 7919) % 1000, active: n % 2 === 0 };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const args = JSON.parse(process.argv[2]!) as WorkerArgs;
let subject: Subject;
try {
  subject = await open(args);
} catch (e) {
  await sendToParent({ type: 'failed', message: `opening ${args.subject}: ${(e as Error).message}` } satisfies WorkerMessage);
  process.exit(1);
}
/** Keys this process wrote, in order: the gets pick among them. */
let written = args.written;
let seed = 0x9e3779b9 ^ (args.id * 0x85ebca6b);
function random(): number {
  // xorshift32: a fixed, cheap sequence per process.
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}

/**
 * `concurrency` loops, each awaiting one operation at a time, for warm-up + duration.
 * Operations started after the warm-up are measured (their latency, and the count).
 */
async function runPhase(phase: 'put' | 'get', concurrency: number, warmupMs: number, durationMs: number): Promise<WorkerMessage> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const end = measureFrom + durationMs;
  // Read by the first operation of the window: a timer would not fire while operations
  // that resolve at once (the embedded engine's gets) keep the event loop in microtasks.
  let cpuAtStart = Number.NaN;
  const available = written;
  if (phase === 'get' && available === 0) throw new Error('no keys written to get');
  const loop = async (): Promise<void> => {
    for (;;) {
      const start = performance.now();
      if (start >= end) return;
      if (start >= measureFrom && Number.isNaN(cpuAtStart)) cpuAtStart = cpuMs();
      try {
        if (phase === 'put') {
          const n = written++;
          await subject.put(`p${args.id}-${n}`, valueOf(args.id, n));
        } else {
          const n = Math.floor(random() * available);
          await subject.get(`p${args.id}-${n}`);
        }
        if (start >= measureFrom) latencies.push(Math.round((performance.now() - start) * 1000));
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        // A failing store must not spin the loop.
        await sleep(1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const cpu = cpuMs() - cpuAtStart;
  return { type: 'phase', phase, ops: latencies.length, errors, ...(firstError !== undefined ? { firstError } : {}), windowMs: durationMs, latencyUs: latencies, cpuMs: cpu, written };
}

/** Puts at a steady rate, each awaited before the next is due; the value carries its send time. */
async function feedWrite(rate: number, durationMs: number): Promise<WorkerMessage> {
  const db = subject.db;
  if (db === undefined) throw new Error('the change feed needs a KoruDelta subject');
  const count = Math.round((rate * durationMs) / 1000);
  const sentAt: number[] = [];
  const ackedAt: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const sent = Date.now();
    try {
      await db.put(FEED_NAMESPACE, `f-${i}`, { i, sent });
      sentAt.push(sent);
      ackedAt.push(Date.now());
    } catch {
      errors++;
      sentAt.push(sent);
      ackedAt.push(Number.NaN);
    }
  }
  return { type: 'feed-written', sentAt, ackedAt, errors };
}

let feedSeen: { index: number[]; receivedAt: number[]; latencyMs: number[] } | undefined;

function subscribeFeed(db: KoruDelta): void {
  feedSeen = { index: [], receivedAt: [], latencyMs: [] };
  const seen = feedSeen;
  db.subscribe({ namespace: FEED_NAMESPACE }, (event) => {
    const now = Date.now();
    if (event.type !== 'change') return;
    const v = event.value as { i: number; sent: number };
    seen.index.push(v.i);
    seen.receivedAt.push(now);
    seen.latencyMs.push(now - v.sent);
  });
}

async function feedRead(expect: number, timeoutMs: number): Promise<WorkerMessage> {
  const until = performance.now() + timeoutMs;
  while (feedSeen!.index.length < expect && performance.now() < until) await sleep(5);
  return { type: 'feed-seen', ...feedSeen! };
}

process.on('message', (m: WorkerCommand) => {
  void (async () => {
    try {
      if (m.type === 'close') {
        await subject.close();
        process.disconnect();
        return;
      }
      let answer: WorkerMessage;
      if (m.type === 'put' || m.type === 'get') answer = await runPhase(m.type, m.concurrency, m.warmupMs, m.durationMs);
      else if (m.type === 'feed-write') answer = await feedWrite(m.rate, m.durationMs);
      else if (m.type === 'feed-read') {
        const { expect, timeoutMs } = m;
        if (feedSeen === undefined) {
          if (subject.db === undefined) throw new Error('the change feed needs a KoruDelta subject');
          subscribeFeed(subject.db);
          await sendToParent({ type: 'subscribed' } satisfies WorkerMessage);
        }
        answer = await feedRead(expect, timeoutMs);
      } else throw new Error(`unknown command ${JSON.stringify(m)}`);
      await sendToParent(answer);
    } catch (e) {
      await sendToParent({ type: 'failed', message: (e as Error).stack ?? String(e) } satisfies WorkerMessage).catch(() => undefined);
      process.exit(1);
    }
  })();
});
await sendToParent({ type: 'ready' } satisfies WorkerMessage);
