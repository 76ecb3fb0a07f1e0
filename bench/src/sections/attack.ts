/**
 * The "under attack" rows, run by the runner itself: a KoruDelta server process with a
 * token (`koru-server --port 0 -d DIR --token T`), an authenticated client in this
 * process doing one get at a time, first alone, then while a second process
 * (`attack-load.ts`) holds WebSocket upgrades without a token that never send hello and
 * runs a storm of catastrophic regex queries. Every wait has a deadline: a get or a fresh
 * session not answered in `getTimeoutMs` is a failure with that latency, so a server that
 * hangs costs a few timeouts, never a hung bench. The server is stopped here, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { AttackLoadArgs, AttackMessage, AttackReport } from '../attack-load.js';
import { runChild } from '../child.js';
import { CATASTROPHIC_PATTERNS, type AttackBenchConfig, type BenchConfig } from '../config.js';
import { startKoruServer, type RunningServer } from '../koru-server.js';
import { percentile } from '../measure.js';
import { cpuMsOf, machineBusy } from '../procs.js';
import type { Row } from '../rows.js';
import { CallTimeout, WsSession } from '../ws-load.js';
import { NAMESPACE, keyNames, makeDoc, randomInts, SEED } from '../workload.js';

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const msOf = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 3 : 1)} ms` : 'n/a');
const log = (message: string): void => console.log(`[attack] ${message}`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The namespace of the regex storm's documents (the client's keys are in NAMESPACE). */
export const REGEX_NAMESPACE = 'attack';

/** What the section hands back to the runner. */
export interface AttackSectionResult {
  readonly rows: Row[];
  readonly problems: string[];
  readonly seconds: number;
}

/** Sequential gets over a window: every latency (a failure counts as the timeout) and what failed. */
interface GetWindow {
  readonly ms: number;
  /** gets sent */
  readonly gets: number;
  /** their latencies, and those of the paced gets a slow one held back (see `record`) */
  readonly latencies: Float64Array;
  readonly failures: number;
  readonly timeouts: number;
  /** sessions the loop had to open again after its socket closed */
  readonly reconnects: number;
  readonly firstFailure?: string;
  /** fresh sessions (connect, hello, get, close) run beside the gets */
  readonly probes: number;
  readonly probeFailures: number;
  readonly probeLatencies: Float64Array;
  readonly firstProbeFailure?: string;
  /** % of one core */
  readonly serverCpu: number;
  /** % of all cores, whatever used them */
  readonly machineBusy: number;
}

/** The authenticated client: one session, reopened when the server closes it. */
class Client {
  private session: WsSession | undefined;
  private readonly names: string[];
  private readonly picks: Uint32Array;
  private cursor = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly config: AttackBenchConfig,
    private readonly serverPid: number,
  ) {
    this.names = keyNames(config.keys);
    this.picks = randomInts(4_096, config.keys, SEED ^ 0xa7);
  }

  private nextKey(): string {
    return this.names[this.picks[this.cursor++ & 4_095]!]!;
  }

  /** One get; resolves when answered and checked; rejects on an error, a wrong answer or the timeout. */
  private async get(session: WsSession, key: string, timeoutMs: number): Promise<void> {
    const doc = (await session.call('get', [NAMESPACE, key], timeoutMs)) as { id?: string } | null;
    if (doc?.id !== key) throw new Error(`get ${key} answered ${JSON.stringify(doc).slice(0, 200)}`);
  }

  /** A fresh session: connect with the token, hello, one get, close; all within the timeout. */
  private async probe(): Promise<number> {
    const t0 = performance.now();
    const timeout = this.config.getTimeoutMs;
    const session = await WsSession.open(this.url, timeout, this.token);
    try {
      await this.get(session, this.nextKey(), Math.max(1, timeout - (performance.now() - t0)));
      return performance.now() - t0;
    } finally {
      session.socket.terminate();
    }
  }

  /**
   * Gets one at a time, one every getIntervalMs at most, for `ms` (the last may overrun by
   * up to the timeout); fresh sessions every probeEveryMs beside them.
   */
  async window(ms: number, probes: boolean): Promise<GetWindow> {
    const { getTimeoutMs: timeout, probeEveryMs } = this.config;
    const latencies: number[] = [];
    let failures = 0;
    let timeouts = 0;
    let reconnects = 0;
    let firstFailure: string | undefined;
    const probeLatencies: number[] = [];
    let probeCount = 0;
    let probeFailures = 0;
    let firstProbeFailure: string | undefined;
    const probeRuns: Promise<void>[] = [];
    const probeTimer = probes
      ? setInterval(() => {
          probeCount++;
          probeRuns.push(
            this.probe().then(
              (latency) => void probeLatencies.push(latency),
              (e: unknown) => {
                probeFailures++;
                probeLatencies.push(timeout);
                firstProbeFailure ??= messageOf(e);
              },
            ),
          );
        }, probeEveryMs)
      : undefined;
    const cpu0 = cpuMsOf(this.serverPid) ?? Number.NaN;
    const busy = machineBusy();
    const interval = this.config.getIntervalMs;
    let gets = 0;
    // Coordinated omission: while one get waits, the gets a paced client would have sent
    // meanwhile are not sent; each is recorded with the wait it would have had (as
    // HdrHistogram's recordValueWithExpectedInterval does), so a stalled server weighs by time.
    const record = (v: number): void => {
      latencies.push(v);
      for (let missed = v - interval; missed >= interval; missed -= interval) latencies.push(missed);
    };
    const t0 = performance.now();
    const end = t0 + ms;
    while (performance.now() < end) {
      const start = performance.now();
      gets++;
      try {
        if (this.session === undefined || this.session.socket.readyState !== WebSocket.OPEN) {
          this.session?.socket.terminate();
          this.session = undefined;
          reconnects++;
          this.session = await WsSession.open(this.url, timeout, this.token);
        }
        await this.get(this.session, this.nextKey(), Math.max(1, timeout - (performance.now() - start)));
        record(performance.now() - start);
      } catch (e) {
        failures++;
        if (e instanceof CallTimeout || /no welcome in/.test(messageOf(e))) timeouts++;
        firstFailure ??= messageOf(e);
        record(Math.max(timeout, performance.now() - start));
        // A refused connection fails at once: do not spin on it.
        if (performance.now() - start < timeout) await sleep(100);
      }
      const wait = start + interval - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const elapsed = performance.now() - t0;
    clearInterval(probeTimer);
    await Promise.all(probeRuns);
    return {
      ms: elapsed,
      gets,
      latencies: Float64Array.from(latencies),
      failures,
      timeouts,
      reconnects,
      ...(firstFailure !== undefined ? { firstFailure } : {}),
      probes: probeCount,
      probeFailures,
      probeLatencies: Float64Array.from(probeLatencies),
      ...(firstProbeFailure !== undefined ? { firstProbeFailure } : {}),
      serverCpu: (((cpuMsOf(this.serverPid) ?? Number.NaN) - cpu0) * 100) / elapsed,
      machineBusy: busy(),
    };
  }

  close(): void {
    this.session?.socket.terminate();
    this.session = undefined;
  }
}

/** Loads the client's keys and the storm's documents, and checks a harmless regex query answers over them. */
async function preload(url: string, token: string, config: AttackBenchConfig): Promise<void> {
  const session = await WsSession.open(url, 10_000, token);
  try {
    const names = keyNames(config.keys);
    for (let from = 0; from < names.length; from += 1_000) {
      await session.call('putMany', [names.slice(from, from + 1_000).map((key, j) => ({ namespace: NAMESPACE, key, value: makeDoc(from + j, 0) }))], 30_000);
    }
    const s = `${'a'.repeat(config.regexLength)}!`;
    const items = Array.from({ length: config.regexDocs }, (_, i) => ({ namespace: REGEX_NAMESPACE, key: `s${i}`, value: { s } }));
    await session.call('putMany', [items], 30_000);
  } finally {
    session.socket.terminate();
  }
  const res = await fetch(`${url}/v1/query/${REGEX_NAMESPACE}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ filter: { s: { $regex: '^a+!$' } } }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { total?: number };
  if (res.status !== 200 || body.total !== config.regexDocs) throw new Error(`a harmless regex query answered ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
}

/** One line on a window's gets and fresh sessions. */
function describeWindow(w: GetWindow, c: AttackBenchConfig): string {
  const l = w.latencies;
  const p = w.probeLatencies;
  return (
    `${int(w.gets)} gets in ${(w.ms / 1000).toFixed(1)} s (+ ${int(l.length - w.gets)} held back by slow ones, recorded with the wait they would have had): p50 ${msOf(percentile(l, 0.5))}, p99 ${msOf(percentile(l, 0.99))}, max ${msOf(percentile(l, 1))}; ` +
    `${int(w.failures)} failed (${int(w.timeouts)} timeouts${w.firstFailure !== undefined ? `; first: ${w.firstFailure.slice(0, 160)}` : ''}), ${int(w.reconnects)} reconnects; ` +
    (w.probes > 0
      ? `fresh sessions (connect with the token, hello, get, close) every ${c.probeEveryMs} ms: ${int(w.probes)}, ${int(w.probeFailures)} failed${w.firstProbeFailure !== undefined ? ` (first: ${w.firstProbeFailure.slice(0, 160)})` : ''}, p50 ${msOf(percentile(p, 0.5))}, max ${msOf(percentile(p, 1))}; `
      : '') +
    `CPU: server ${Number.isFinite(w.serverCpu) ? `${w.serverCpu.toFixed(0)}%` : 'n/a'} of one core, machine ${Number.isFinite(w.machineBusy) ? `${w.machineBusy.toFixed(0)}%` : 'n/a'} busy`
  );
}

/** One line on what the attacker did. */
function describeAttack(r: AttackReport, c: AttackBenchConfig): string {
  const s = r.sockets;
  const x = r.regex;
  const cut = x.sent - x.ok - x.non2xx - x.timeouts - x.errors;
  return (
    `unauthenticated sockets (upgrade to /v1/ws without a token, no hello, held open; closed or refused ones reopened, at most ${int(c.reopenPerSecond)}/s): ${int(s.openAtReady)} of ${int(s.wanted)} open after ${int(s.rampMs)} ms, ${int(s.minOpen)}..${int(s.maxOpen)} open during the attack, ${int(s.openAtEnd)} at its end; ${int(s.opened)} upgrades completed in all, ${int(s.refused)} refused${s.firstRefusal !== undefined ? ` (first: ${s.firstRefusal})` : ''}, ${int(s.closedByServer)} closed by the server, ${int(s.errors)} other failures${s.firstError !== undefined ? ` (first: ${s.firstError.slice(0, 120)})` : ''}; ` +
    `regex storm (POST /v1/query/${REGEX_NAMESPACE} with the token, patterns ${CATASTROPHIC_PATTERNS.map((p) => `\`${p}\``).join(', ')} in turn): ${int(x.sent)} sent, ${int(x.ok)} 2xx, ${int(x.non2xx)} non-2xx${x.firstStatus !== undefined ? ` (first: ${x.firstStatus})` : ''}, ${int(x.timeouts)} timed out, ${int(x.errors)} failed${x.firstError !== undefined ? ` (first: ${x.firstError.slice(0, 120)})` : ''}, ${int(cut)} cut off at the end; answered ones p50 ${msOf(x.p50Ms)}, max ${msOf(x.maxMs)}; attacker CPU ${r.cpuPercent.toFixed(0)}% of one core`
  );
}

/** Waits for /healthz, up to `ms`: how long it took, or undefined. */
async function healthz(url: string, ms: number): Promise<number | undefined> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(ms) });
    await res.arrayBuffer();
    return res.ok ? performance.now() - t0 : undefined;
  } catch {
    return undefined;
  }
}

/** The whole section: baseline window, attack window, rows. */
export async function attackSection(bench: BenchConfig, root: string): Promise<AttackSectionResult> {
  const t0 = performance.now();
  const c = bench.attack;
  const rows: Row[] = [];
  const problems: string[] = [];
  const dir = join(root, 'attack');
  const token = randomBytes(16).toString('hex');
  await mkdir(dir, { recursive: true });
  let server: RunningServer | undefined;
  let client: Client | undefined;
  let stopNote = '';
  try {
    server = await startKoruServer(dir, 20_000, ['--token', token]);
    log(`server pid ${server.pid} at ${server.url} (with a token)`);
    await preload(server.url, token, c);
    client = new Client(server.url, token, c, server.pid);

    await client.window(c.warmupMs, false);
    const base = await client.window(c.baselineMs, true);
    const baseP99 = percentile(base.latencies, 0.99);
    log(`baseline: ${int(base.gets)} gets, p50 ${msOf(percentile(base.latencies, 0.5))}, p99 ${msOf(baseP99)}, ${int(base.failures)} failed`);
    if (base.failures + base.probeFailures > 0) problems.push(`KoruDelta server under attack: ${int(base.failures + base.probeFailures)} gets or sessions failed before the attack (first: ${base.firstFailure ?? base.firstProbeFailure})`);

    // The attacker: ready once its sockets are open; it holds the attack for the window plus the last get's overrun.
    let report: AttackReport | undefined;
    let readyOpen = 0;
    let onReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const args: AttackLoadArgs = { url: server.url, token, regexNamespace: REGEX_NAMESPACE, holdMs: c.attackMs + c.getTimeoutMs, config: c };
    const childTimeout = c.rampTimeoutMs + c.attackMs + c.getTimeoutMs + c.regexTimeoutMs + 20_000;
    const attacker = runChild(
      './attack-load.ts',
      args,
      (m) => {
        const message = m as AttackMessage;
        if (message.type === 'ready') {
          readyOpen = message.open;
          log(`attacker: ${int(message.open)} unauthenticated sockets open after ${int(message.rampMs)} ms; regex storm and measurement start`);
          onReady();
        } else if (message.type === 'report') report = message.report;
        else if (message.type === 'problem') problems.push(message.message);
      },
      childTimeout,
    );
    const exitedEarly = await Promise.race([ready.then(() => false), attacker.then(() => true)]);
    if (exitedEarly) {
      const exit = await attacker;
      throw new Error(`the attack process ended before the attack (exit ${exit.code ?? exit.signal}${exit.timedOut ? ', killed' : ''})`);
    }
    const hit = await client.window(c.attackMs, true);
    const exit = await attacker;
    if (report === undefined) problems.push(`KoruDelta server under attack: the attack process did not report (exit ${exit.code ?? exit.signal}${exit.timedOut ? `, killed after ${childTimeout / 1000} s` : ''})`);
    client.close();
    client = undefined;
    const crashed = server.child.exitCode ?? server.child.signalCode;
    if (crashed !== null) problems.push(`KoruDelta server under attack: the server process exited during the attack (${crashed})`);
    const health = crashed === null ? await healthz(server.url, 3_000) : undefined;

    const hitP99 = percentile(hit.latencies, 0.99);
    const failed = hit.failures + hit.probeFailures;
    log(`under attack: ${int(hit.gets)} gets, p50 ${msOf(percentile(hit.latencies, 0.5))}, p99 ${msOf(hitP99)}, ${int(hit.failures)} failed (${int(hit.timeouts)} timeouts), ${int(hit.probeFailures)} of ${int(hit.probes)} fresh sessions failed`);
    if (report !== undefined) log(describeAttack(report, c));
    log(health !== undefined ? `/healthz answered ${int(health)} ms after the attack stopped` : '/healthz: no answer within 3 s after the attack stopped');

    const what = `one authenticated WebSocket session (token in the upgrade's Authorization header; the \`ws\` package, PROTOCOL.md) in the bench process, one get at a time, at most one every ${c.getIntervalMs} ms, of ${int(c.keys)} pre-loaded ~200-byte documents, seeded random keys; a get not answered in ${int(c.getTimeoutMs)} ms is a failure with that latency; server \`koru-server --token\` on 127.0.0.1, durable, default options`;
    rows.push({ subject: 'koru', operation: 'attack.get.p99.baseline', value: baseP99, unit: 'ms', notes: `${what}; ${(c.baselineMs / 1000).toFixed(1)} s after ${(c.warmupMs / 1000).toFixed(1)} s of warm-up, no attack: ${describeWindow(base, c)}` });
    rows.push({
      subject: 'koru',
      operation: 'attack.get.p99',
      value: hitP99,
      unit: 'ms',
      notes:
        `the same client for ${(c.attackMs / 1000).toFixed(1)} s while a second process attacks (${int(c.unauthSockets)} unauthenticated sockets, ${c.regexLoops} regex query loops over ${int(c.regexDocs)} documents { s: 'a' × ${c.regexLength} + '!' }, each query aborted after ${int(c.regexTimeoutMs)} ms): ${describeWindow(hit, c)}; ` +
        `ratio to the baseline p99 ${failed > 0 ? '∞ (gets or sessions failed: the p99 counts each as the timeout, a lower bound)' : `${(hitP99 / baseP99).toFixed(2)}×`}; ` +
        (report !== undefined ? `${describeAttack(report, c)}; ` : `attacker: ${int(readyOpen)} sockets open at the start, no report; `) +
        `after the attack: ${health !== undefined ? `/healthz answered in ${int(health)} ms` : 'no /healthz answer within 3 s'}`,
    });
    rows.push({
      subject: 'koru',
      operation: 'attack.failures',
      value: failed,
      unit: 'calls',
      notes: `${int(hit.failures)} of ${int(hit.gets)} gets failed (${int(hit.timeouts)} timed out after ${int(c.getTimeoutMs)} ms) and ${int(hit.probeFailures)} of ${int(hit.probes)} fresh authenticated sessions failed during the attack`,
    });
  } catch (error) {
    problems.push(`KoruDelta server under attack: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    console.error(`[attack] PROBLEM: ${messageOf(error)}`);
  } finally {
    client?.close();
    if (server !== undefined) {
      const stop = await server.stop(c.stopGraceMs);
      stopNote = stop.killed ? `still running ${(stop.ms / 1000).toFixed(0)} s after SIGTERM, killed` : `stopped by SIGTERM in ${int(stop.ms)} ms, exit ${stop.code ?? stop.signal}`;
      stopNote += `; it logged ${int(server.logProblems.count)} warnings/errors`;
      log(`server ${stopNote}`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  const attackRow = rows.find((r) => r.operation === 'attack.get.p99');
  if (attackRow !== undefined && stopNote !== '') rows[rows.indexOf(attackRow)] = { ...attackRow, notes: `${attackRow.notes}; server ${stopNote}` };
  return { rows, problems, seconds: (performance.now() - t0) / 1000 };
}
