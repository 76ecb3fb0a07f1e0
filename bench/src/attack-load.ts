/**
 * The attacker of the "under attack" rows, a process of its own (started by
 * sections/attack.ts) so its work never shares the measuring client's event loop:
 *
 * - `unauthSockets` WebSocket upgrades to /v1/ws without a token that never send hello,
 *   held open; any the server closes or refuses is reopened, at most `reopenPerSecond`.
 * - a regex storm: `regexLoops` loops of `POST /v1/query/<ns>` (with the token: the
 *   attacker is a client allowed to query) whose filters are catastrophic for a
 *   backtracking engine over values `'a'.repeat(regexLength) + '!'`; each request is
 *   aborted after `regexTimeoutMs`, so a server that hangs cannot hang this process.
 *
 * Messages to the parent: `ready` once the sockets are open (or the ramp's deadline
 * passed), then after `holdMs` of attack everything is closed and one `report` is sent.
 */
import WebSocket from 'ws';
import { sendToParent } from './child.js';
import { CATASTROPHIC_PATTERNS, type AttackBenchConfig } from './config.js';
import { percentile } from './measure.js';

/** Arguments of `attack-load.ts`. */
export interface AttackLoadArgs {
  readonly url: string;
  readonly token: string;
  /** namespace holding the regex storm's documents */
  readonly regexNamespace: string;
  /** how long the attack runs after `ready` */
  readonly holdMs: number;
  readonly config: AttackBenchConfig;
}

/** What the unauthenticated sockets did. */
export interface SocketReport {
  readonly wanted: number;
  /** open when the attack started, and how long opening them took */
  readonly openAtReady: number;
  readonly rampMs: number;
  /** open sockets during the attack (sampled every 100 ms) */
  readonly minOpen: number;
  readonly maxOpen: number;
  readonly openAtEnd: number;
  /** upgrades that completed, in all */
  readonly opened: number;
  /** upgrades answered with an HTTP status instead (e.g. 503) */
  readonly refused: number;
  /** open sockets the server closed */
  readonly closedByServer: number;
  /** other failures (resets, handshake timeouts) */
  readonly errors: number;
  readonly firstRefusal?: string;
  readonly firstError?: string;
}

/** What the regex storm did. */
export interface RegexReport {
  readonly sent: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly firstStatus?: string;
  readonly timeouts: number;
  readonly errors: number;
  readonly firstError?: string;
  /** answered requests' latency, ms */
  readonly p50Ms: number;
  readonly maxMs: number;
}

export interface AttackReport {
  readonly sockets: SocketReport;
  readonly regex: RegexReport;
  /** this process's CPU over the attack, % of one core */
  readonly cpuPercent: number;
}

export type AttackMessage =
  | { readonly type: 'ready'; readonly open: number; readonly rampMs: number }
  | { readonly type: 'report'; readonly report: AttackReport }
  | { readonly type: 'problem'; readonly message: string }
  | { readonly type: 'done' };

const args = JSON.parse(process.argv[2]!) as AttackLoadArgs;
const { url, token, config } = args;
const wsUrl = `${url.replace(/^http/, 'ws')}/v1/ws`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- unauthenticated sockets

const open = new Set<WebSocket>();
let pending = 0;
let opened = 0;
let refused = 0;
let closedByServer = 0;
let errors = 0;
let firstRefusal: string | undefined;
let firstError: string | undefined;
let stopping = false;
/** Upgrades allowed now: unlimited while the sockets are first opened, then refilled at reopenPerSecond. */
let allowance = Number.POSITIVE_INFINITY;

function openOne(): void {
  pending++;
  allowance--;
  let settled = false;
  const settle = (): void => {
    if (!settled) {
      settled = true;
      pending--;
    }
  };
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false, handshakeTimeout: 5_000 });
  ws.on('open', () => {
    settle();
    opened++;
    open.add(ws);
  });
  ws.on('error', (e: Error) => {
    const refusal = /Unexpected server response: (\d+)/.exec(e.message);
    if (refusal !== null) {
      refused++;
      firstRefusal ??= `HTTP ${refusal[1]}`;
    } else if (!stopping) {
      errors++;
      firstError ??= e.message;
    }
  });
  ws.on('close', () => {
    settle();
    if (open.delete(ws) && !stopping) closedByServer++;
    pump();
  });
  // Whatever the server sends (an error before closing) is ignored: the socket never speaks.
  ws.on('message', () => {});
}

/** Opens sockets until `wanted` are open or opening, within the allowance and the handshake concurrency. */
function pump(): void {
  while (!stopping && open.size + pending < config.unauthSockets && pending < config.openConcurrency && allowance >= 1) openOne();
}

// ---------------------------------------------------------------- regex storm

const regex = { sent: 0, ok: 0, non2xx: 0, timeouts: 0, errors: 0, firstStatus: undefined as string | undefined, firstError: undefined as string | undefined };
const regexLatencies: number[] = [];
const stopStorm = new AbortController();

async function stormLoop(loop: number): Promise<void> {
  let i = loop;
  while (!stopping) {
    const pattern = CATASTROPHIC_PATTERNS[i++ % CATASTROPHIC_PATTERNS.length]!;
    const t0 = performance.now();
    regex.sent++;
    try {
      const res = await fetch(`${url}/v1/query/${args.regexNamespace}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ filter: { s: { $regex: pattern } } }),
        signal: AbortSignal.any([AbortSignal.timeout(config.regexTimeoutMs), stopStorm.signal]),
      });
      await res.arrayBuffer();
      regexLatencies.push(performance.now() - t0);
      if (res.ok) regex.ok++;
      else {
        regex.non2xx++;
        regex.firstStatus ??= `HTTP ${res.status}`;
      }
    } catch (e) {
      if (stopping) break;
      const name = e instanceof Error ? e.name : '';
      if (name === 'TimeoutError') regex.timeouts++;
      else {
        regex.errors++;
        regex.firstError ??= e instanceof Error ? `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}` : String(e);
        // A refused or reset connection fails at once: do not spin.
        await sleep(50);
      }
    }
  }
}

// ---------------------------------------------------------------- main

const t0 = performance.now();
const pumpTimer = setInterval(pump, 20);
pump();
while (open.size < config.unauthSockets && performance.now() - t0 < config.rampTimeoutMs) await sleep(20);
const rampMs = performance.now() - t0;
const openAtReady = open.size;
await sendToParent({ type: 'ready', open: openAtReady, rampMs } satisfies AttackMessage);

// From now on sockets the server drops are reopened at a bounded rate.
const cpu0 = process.cpuUsage();
const attack0 = performance.now();
allowance = 0;
const refill = setInterval(() => {
  allowance = Math.min(config.reopenPerSecond / 10, allowance + config.reopenPerSecond / 10);
  pump();
}, 100);
let minOpen = open.size;
let maxOpen = open.size;
const sampler = setInterval(() => {
  minOpen = Math.min(minOpen, open.size);
  maxOpen = Math.max(maxOpen, open.size);
}, 100);
const storm = Array.from({ length: config.regexLoops }, (_, loop) => stormLoop(loop));
await sleep(args.holdMs);

stopping = true;
const openAtEnd = open.size;
clearInterval(pumpTimer);
clearInterval(refill);
clearInterval(sampler);
stopStorm.abort();
await Promise.all(storm);
const attackMs = performance.now() - attack0;
const used = process.cpuUsage(cpu0);
for (const ws of open) ws.terminate();

const answered = Float64Array.from(regexLatencies);
const report: AttackReport = {
  sockets: {
    wanted: config.unauthSockets,
    openAtReady,
    rampMs,
    minOpen,
    maxOpen,
    openAtEnd,
    opened,
    refused,
    closedByServer,
    errors,
    ...(firstRefusal !== undefined ? { firstRefusal } : {}),
    ...(firstError !== undefined ? { firstError } : {}),
  },
  regex: {
    sent: regex.sent,
    ok: regex.ok,
    non2xx: regex.non2xx,
    timeouts: regex.timeouts,
    errors: regex.errors,
    ...(regex.firstStatus !== undefined ? { firstStatus: regex.firstStatus } : {}),
    ...(regex.firstError !== undefined ? { firstError: regex.firstError } : {}),
    p50Ms: answered.length > 0 ? percentile(answered, 0.5) : Number.NaN,
    maxMs: answered.length > 0 ? percentile(answered, 1) : Number.NaN,
  },
  cpuPercent: ((used.user + used.system) / 1000 / attackMs) * 100,
};
await sendToParent({ type: 'report', report } satisfies AttackMessage);
await sendToParent({ type: 'done' } satisfies AttackMessage);
process.exit(0);
