/**
 * The cluster rows, run by the runner itself (or alone by `cluster-run.ts`): three
 * `kdelta start` members (A started with `--cluster`, B and C with `--join <A>`) on
 * 127.0.0.1, each its own process with a fresh data directory, a fresh cluster for each
 * measurement. Clients (writers, subscribers) run in this process over the members'
 * WebSocket API; the partition row puts a small TCP proxy in front of each member
 * (`cluster-proxy.ts`). Every process started here is stopped here (SIGTERM, which must
 * exit 0), also on failure.
 *
 * 1. Replication lag: a paced writer puts `lagRate`/s to A; subscriptions on B and C see
 *    each change; lag = event seen at B (C) − put sent to A (from A's answer in the notes).
 * 2. Join: A's directory is filled with the large DB before it starts, B joins it, then
 *    an empty C joins A: seconds from spawning C until its /v1/status reports A's stateRoot.
 * 3. Partition: {A} | {B, C} cut at the proxies, writes on both sides, heal: seconds from
 *    the heal until all three report the same stateRoot.
 * 4. Anti-entropy cost: quiet, identical members; CPU time from /proc over a window.
 */
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { runChild } from '../child.js';
import type { BenchConfig, ClusterBenchConfig } from '../config.js';
import { closeSocket, openSocket, pacedPuts, subscribeSeen, until, type PacedWrites, type Seen } from '../cluster-load.js';
import { KDELTA_VERSION, peerStates, startMember, waitHealthy, waitSameRoot, type Member, type MemberOptions, type MemberStatus } from '../cluster-members.js';
import type { PrepArgs, PrepReport } from '../cluster-prep.js';
import { ClusterProxy, Partition } from '../cluster-proxy.js';
import { percentile } from '../measure.js';
import { machineBusy, rssOf } from '../procs.js';
import type { OperationId, Row, Unit } from '../rows.js';
import { keyName, makeDoc } from '../workload.js';

export { KDELTA_VERSION };

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;
const sec = (x: number): string => `${(x / 1000).toFixed(2)} s`;
const pct = (x: number): string => `${x.toFixed(x < 10 ? 2 : 0)}%`;
const log = (message: string): void => console.log(`[cluster] ${message}`);
const sleep = (t: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, t));

/** What the section hands back. */
export interface ClusterSectionResult {
  readonly rows: Row[];
  readonly problems: string[];
  /** Longer per-measurement detail (per-second lag, peer states, proxy counters) for results/cluster.md. */
  readonly details: string[];
  readonly seconds: number;
}

export interface ClusterSectionOptions {
  /** Run every member under `node --cpu-prof --cpu-prof-dir <dir>` (profiles written when it exits). */
  readonly profileDir?: string;
  /** Only these measurements (default all): lag, join, partition, idle. */
  readonly only?: readonly ClusterPart[];
}

export const CLUSTER_PARTS = ['lag', 'join', 'partition', 'idle'] as const;
export type ClusterPart = (typeof CLUSTER_PARTS)[number];

/** Members and proxies of one measurement: all stopped by `close`, whatever happened. */
class Scope {
  readonly members: Member[] = [];
  readonly proxies: ClusterProxy[] = [];
  readonly dirs: string[] = [];

  constructor(
    private readonly root: string,
    private readonly what: string,
    private readonly problems: string[],
    private readonly nodeArgs: readonly string[],
  ) {}

  /** A fresh data directory path (not created: the member creates it). */
  dir(name: string): string {
    const d = join(this.root, `cluster-${this.what}-${name}`);
    this.dirs.push(d);
    return d;
  }

  async start(o: MemberOptions): Promise<Member> {
    const m = await startMember({ ...o, nodeArgs: [...this.nodeArgs, ...(o.nodeArgs ?? [])] });
    this.members.push(m);
    log(`${this.what}: ${o.name} pid ${m.pid} at ${m.url}${m.id !== '' ? `, node ${m.id.slice(0, 12)}…, dialed at ${m.address}` : ''}${o.join !== undefined ? `, joining ${o.join}` : ''} (ready in ${sec(m.readyAt - m.spawnedAt)})`);
    return m;
  }

  async proxy(partition: Partition): Promise<ClusterProxy> {
    const p = await ClusterProxy.start(partition);
    this.proxies.push(p);
    return p;
  }

  async close(): Promise<void> {
    const stops = await Promise.all(this.members.map(async (m) => ({ m, crashed: m.child.exitCode ?? m.child.signalCode, stop: await m.stop() })));
    for (const { m, crashed, stop } of stops) {
      if (crashed !== null) this.problems.push(`cluster ${this.what}: member ${m.name} had exited on its own (${crashed})`);
      else if (stop.killed || stop.code !== 0) this.problems.push(`cluster ${this.what}: member ${m.name}, SIGTERM: ${stop.killed ? `still running after ${(stop.ms / 1000).toFixed(0)} s, killed` : `exit ${stop.code ?? stop.signal}`}`);
      if (m.logProblems.count > 0) this.problems.push(`cluster ${this.what}: member ${m.name} logged ${m.logProblems.count} warnings/errors (first: ${m.logProblems.first.join(' | ').slice(0, 500)})`);
    }
    if (stops.length > 0) log(`${this.what}: members stopped (${stops.map(({ m, stop }) => `${m.name} ${stop.killed ? 'KILLED' : `exit ${stop.code ?? stop.signal}`} in ${stop.ms.toFixed(0)} ms`).join(', ')})`);
    await Promise.all(this.proxies.map((p) => p.close()));
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** CPU time of members and of this process over a window, as % of one core. */
function cpuWindow(members: readonly Member[]): () => { members: number[]; self: number; machine: number; seconds: number } {
  const t0 = performance.now();
  const m0 = members.map((m) => m.cpuMs() ?? Number.NaN);
  const s0 = process.cpuUsage();
  const busy = machineBusy();
  return () => {
    const wall = performance.now() - t0;
    const s = process.cpuUsage(s0);
    return {
      members: members.map((m, i) => (((m.cpuMs() ?? Number.NaN) - m0[i]!) / wall) * 100),
      self: ((s.user + s.system) / 1000 / wall) * 100,
      machine: busy(),
      seconds: wall / 1000,
    };
  };
}

function describeCpu(members: readonly Member[], c: ReturnType<ReturnType<typeof cpuWindow>>): string {
  // Whatever else ran on the machine meanwhile (other processes, the kernel's own work), in % of one core.
  const others = (c.machine * cpus().length) - c.self - c.members.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return `CPU over those ${c.seconds.toFixed(1)} s: ${members.map((m, i) => `${m.name} ${pct(c.members[i]!)}`).join(', ')} of one core, the bench process ${pct(c.self)}; machine ${pct(c.machine)} of all ${cpus().length} cores busy, of which ${pct(Math.max(0, others))} of one core was neither (other processes, kernel)`;
}

/** Fills `dir` with keys × versions of the workload through the embedded API, in a child process. */
async function prepare(dir: string, keys: number, versions: number, batch: number): Promise<PrepReport> {
  let report: PrepReport | undefined;
  const args: PrepArgs = { dir, keys, versions, batch };
  const exit = await runChild('./cluster-prep.ts', args, (m) => (report = m as PrepReport), 10 * 60_000);
  if (report === undefined) throw new Error(`preparing ${int(keys * versions)} versions failed (exit ${exit.code ?? exit.signal}${exit.timedOut ? ', timed out' : ''})`);
  log(`prepared ${int(report.versions)} versions in ${sec(report.writeMs)} (+ compact ${sec(report.compactMs)})`);
  return report;
}

interface LagStats {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly negative: number;
}

function lagStats(values: readonly number[]): LagStats {
  return {
    n: values.length,
    p50: percentile(values, 0.5),
    p99: percentile(values, 0.99),
    p999: percentile(values, 0.999),
    max: Math.max(...values),
    negative: values.filter((v) => v < 0).length,
  };
}

const describeLag = (s: LagStats): string => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, p99.9 ${ms(s.p999)}, max ${ms(s.max)}`;

/** Storage snapshot files in a member's data directory (the file adapter writes one when its log outgrows 32 MiB). */
async function snapshotFiles(dir: string): Promise<Set<string>> {
  try {
    return new Set((await readdir(dir)).filter((f) => /^snapshot-\d+\.kds$/.test(f)));
  } catch {
    return new Set();
  }
}

type Push = (operation: OperationId, value: number, unit: Unit, notes: string) => void;

// ---- 1. replication lag ----------------------------------------------------------

async function lagRun(c: ClusterBenchConfig, s: Scope, push: Push, problems: string[], details: string[]): Promise<void> {
  const A = await s.start({ name: 'A', dir: s.dir('a') });
  const B = await s.start({ name: 'B', dir: s.dir('b'), join: A.address });
  const C = await s.start({ name: 'C', dir: s.dir('c'), join: A.address });
  const members = [A, B, C];
  await waitHealthy(members, 30_000);
  await waitSameRoot(members, 30_000);
  const writer = await openSocket(A.url);
  const subB = await openSocket(B.url);
  const subC = await openSocket(C.url);
  try {
    const capacity = Math.ceil(c.lagRate * c.lagSeconds) + 16;
    const seen: [Member, Seen][] = [
      [B, await subscribeSeen(subB, 'lag', capacity)],
      [C, await subscribeSeen(subC, 'lag', capacity)],
    ];
    // Warm-up: the same load for lagWarmupSeconds (fresh processes, cold JIT), values with a
    // negative i (the subscribers count them apart), then until the subscribers have them all, then 1 s.
    const warmWriter = await openSocket(A.url);
    let warmNote: string;
    try {
      log(`lag: warm-up, ${int(c.lagRate)} puts/s to A for ${c.lagWarmupSeconds} s`);
      const warm = await pacedPuts(warmWriter, {
        rate: c.lagRate,
        ms: c.lagWarmupSeconds * 1000,
        namespace: 'lag',
        key: (i) => keyName(i % c.lagKeys),
        value: (i) => JSON.stringify({ _i: -1 - i, ...makeDoc(i % c.lagKeys, i) }),
      });
      const w0 = performance.now();
      const drained = await until(() => seen.every(([, x]) => x.foreign >= warm.acked), 30_000);
      const answers: number[] = [];
      for (let i = 0; i < warm.sent; i++) if (!Number.isNaN(warm.ackedAt[i]!)) answers.push(warm.ackedAt[i]! - warm.sentAt[i]!);
      warmNote = `after a warm-up of ${int(warm.sent)} puts in ${c.lagWarmupSeconds} s (A's answers ${answers.length > 0 ? describeLag(lagStats(answers)) : 'none'}${warm.skipped > 0 ? `, ${int(warm.skipped)} skipped` : ''}; the subscribers had every warm-up change ${drained ? `${sec(performance.now() - w0)} after the last answer` : 'NOT within 30 s'}) and 1 s of rest`;
      if (!drained) problems.push(`cluster lag: the warm-up's changes did not all reach the subscribers within 30 s (${seen.map(([m, x]) => `${m.name} ${int(x.foreign)}`).join(', ')} of ${int(warm.acked)})`);
      log(`lag: warm-up done: ${warmNote}`);
    } finally {
      await closeSocket(warmWriter);
    }
    await sleep(1_000);
    const snapsBefore = await Promise.all(members.map((m) => snapshotFiles(m.dir)));
    const cpu = cpuWindow(members);
    log(`lag: ${int(c.lagRate)} puts/s to A for ${c.lagSeconds} s; subscribers on B and C`);
    const w = await pacedPuts(writer, {
      rate: c.lagRate,
      ms: c.lagSeconds * 1000,
      namespace: 'lag',
      key: (i) => keyName(i % c.lagKeys),
      value: (i) => JSON.stringify({ _i: i, ...makeDoc(i % c.lagKeys, i) }),
    });
    const cpuWrites = cpu();
    const snapsAfter = await Promise.all(members.map((m) => snapshotFiles(m.dir)));
    const snaps = members.map((m, k) => [...snapsAfter[k]!].filter((f) => !snapsBefore[k]!.has(f)).length);
    const snapNote = snaps.some((n) => n > 0)
      ? `automatic storage snapshots written during the run (the file adapter rewrites its snapshot, on the event loop, when the log passes 32 MiB): ${members.map((m, k) => `${m.name} ${snaps[k]}`).join(', ')}; `
      : 'no storage snapshot was written during the run; ';
    const all = await until(() => seen.every(([, x]) => x.count >= w.acked - w.errors), 15_000);
    log(`lag: ${int(w.sent)} puts sent, ${int(w.acked)} answered (${w.errors} errors, ${w.skipped} skipped); seen at ${seen.map(([m, x]) => `${m.name} ${int(x.count)}`).join(', ')}${all ? '' : ' (NOT ALL after 15 s)'}`);
    if (w.errors > 0) problems.push(`cluster lag: ${w.errors} puts to A failed (first: ${w.firstError})`);
    for (const [m, x] of seen) {
      if (x.count < w.acked - w.errors) problems.push(`cluster lag: ${int(w.acked - w.errors - x.count)} of ${int(w.acked - w.errors)} acknowledged writes to A never reached ${m.name}'s subscription (15 s after the last)`);
      if (x.lagged > 0 || x.ended !== undefined) problems.push(`cluster lag: ${m.name}'s subscription lagged ${x.lagged}× / ended: ${x.ended ?? '-'}`);
      if (x.closed !== undefined) problems.push(`cluster lag: ${m.name} closed the subscriber's socket: ${x.closed} (a member drops a WebSocket client with 8 MiB unsent; see its log)`);
      if (x.duplicates > 0) problems.push(`cluster lag: ${m.name}'s subscription saw ${x.duplicates} changes twice`);
    }
    const from = w.startedAt;
    // Lag of write i at a member: event seen there − put sent to A (primary: never negative, and it
    // includes A's own write path); also − A's answer received, which can be negative: A pushes a
    // version to the members as it commits, and its answer to the client leaves a moment later.
    const fromSend: number[] = [];
    const fromAck: number[] = [];
    const perMember: string[] = [];
    const ackLatency: number[] = [];
    for (let i = 0; i < w.sent; i++) if (w.sentAt[i]! >= from && !Number.isNaN(w.ackedAt[i]!)) ackLatency.push(w.ackedAt[i]! - w.sentAt[i]!);
    const perSecond: string[] = [];
    for (const [m, x] of seen) {
      const mine: number[] = [];
      for (let i = 0; i < w.sent; i++) {
        const t = x.at[i]!;
        if (w.sentAt[i]! < from || Number.isNaN(t) || Number.isNaN(w.ackedAt[i]!)) continue;
        mine.push(t - w.sentAt[i]!);
        fromAck.push(t - w.ackedAt[i]!);
      }
      fromSend.push(...mine);
      if (mine.length > 0) perMember.push(`${m.name}: ${describeLag(lagStats(mine))} over ${int(mine.length)} changes`);
      // Per second of the run, to tell a lag that grows (the cluster cannot keep up) from passing spikes.
      const buckets: number[][] = [];
      for (let i = 0; i < w.sent; i++) {
        const t = x.at[i]!;
        if (Number.isNaN(t)) continue;
        (buckets[Math.floor((w.sentAt[i]! - w.startedAt) / 1000)] ??= []).push(t - w.sentAt[i]!);
      }
      perSecond.push(`${m.name}: ${buckets.map((b, k) => `${k}s ${percentile(b, 0.5).toFixed(1)}/${percentile(b, 0.99).toFixed(1)}`).join(', ')}`);
    }
    if (fromSend.length === 0) throw new Error('no replicated change was seen');
    const lag = lagStats(fromSend);
    const ackLag = lagStats(fromAck);
    const ack = lagStats(ackLatency);
    const achieved = (w.sent / (w.endedAt - w.startedAt)) * 1000;
    const missing = seen.filter(([, x]) => x.count < w.acked - w.errors).map(([m, x]) => `${m.name} ${int(x.count)}`);
    const what =
      `${missing.length > 0 ? `INCOMPLETE: of ${int(w.acked - w.errors)} acknowledged puts only ${missing.join(', ')} reached the subscriptions (see Problems); ` : ''}${int(c.lagRate)} puts/s (each a ~230-byte document, keys cycling over ${int(c.lagKeys)}) from one WebSocket (${int(w.sent)} sent in ${c.lagSeconds} s, paced every 1 ms: ${int(achieved)}/s achieved${w.skipped > 0 ? `, ${int(w.skipped)} skipped with 10,000 unanswered` : ''}) to member A of 3 (fresh, empty, durable defaults); a subscription to the namespace on B and on C, in the same process as the writer (one clock). ` +
      `Lag = when the change event arrived from B (C) − when the put was sent to A (so A's own write path is included), over ${int(lag.n)} changes (every put of the run, to both), ${warmNote}; `;
    push(
      'cluster.lag.p50',
      lag.p50,
      'ms',
      `${what}per member: ${perMember.join('; ')}; measured from A's answer instead: ${describeLag(ackLag)} (${int(ackLag.negative)} events came before A's answer: A pushes a version as it commits, its answer leaves a moment later); A's answer to a put took ${describeLag(ack)}; ${snapNote}${describeCpu(members, cpuWrites)}`,
    );
    push('cluster.lag.p99', lag.p99, 'ms', `same run: ${describeLag(lag)}; p50/p99 (ms) of the changes written in each second of the run — ${perSecond.join('; ')}`);
    details.push(`**Replication lag, per second of the run (p50/p99 ms, from the send)**: ${perSecond.join('; ')}`);
    log(`lag: ${describeLag(lag)} (from the send); from A's answer ${describeLag(ackLag)}; A's answers ${describeLag(ack)}`);
  } finally {
    await Promise.all([writer, subB, subC].map(closeSocket));
  }
}

// ---- 2. join -----------------------------------------------------------------------

async function joinRun(bench: BenchConfig, s: Scope, push: Push, problems: string[], details: string[]): Promise<void> {
  const c = bench.cluster;
  const keys = bench.largeKeys;
  const versions = keys * bench.largeVersions;
  const dirA = s.dir('a');
  const prep = await prepare(dirA, keys, bench.largeVersions, c.prepBatch);
  const A = await s.start({ name: 'A', dir: dirA });
  const statusA = await A.status();
  if (statusA.stateRoot !== prep.stateRoot || statusA.versions !== prep.versions) {
    problems.push(`cluster join: A serves ${int(statusA.versions)} versions, root ${statusA.stateRoot.slice(0, 12)}, but its directory was filled with ${int(prep.versions)}, root ${prep.stateRoot.slice(0, 12)}`);
  }
  const timeoutMs = c.joinTimeoutSeconds * 1000;
  const B = await s.start({ name: 'B', dir: s.dir('b'), join: A.address });
  const cpuB = cpuWindow([A, B]);
  // Polled every 250 ms: /v1/status counts keys and versions (O(keys + versions)), ~2.5 ms a call
  // at 1,000,000 versions; every 50 ms cost the joiner ~5% of its CPU in a profile.
  const b = await waitSameRoot([B], timeoutMs, { root: statusA.stateRoot, from: B.spawnedAt, pollMs: 250 });
  const bCpu = cpuB();
  log(`join: B (first joiner) has A's state root ${sec(b.at - B.spawnedAt)} after it was spawned`);
  await sleep(1_000);
  const cpu = cpuWindow([A, B]);
  const C = await s.start({ name: 'C', dir: s.dir('c'), join: A.address });
  let r: Awaited<ReturnType<typeof waitSameRoot>>;
  try {
    r = await waitSameRoot([C], timeoutMs, { root: statusA.stateRoot, from: C.spawnedAt, pollMs: 250 });
  } catch (e) {
    details.push(`**Join, not completed**: C's snapshot log: ${C.snapshotLog.join(' | ') || 'nothing'}; ${await peerStates([A, B, C])}`);
    throw e;
  }
  const w = cpu();
  const seconds = (r.at - C.spawnedAt) / 1000;
  const cCpu = C.cpuMs();
  const rss = rssOf(C.pid);
  const snapshot = C.snapshotLog.map((l) => /"versions":(\d+).*"ms":(\d+)/.exec(l)).find((m) => m !== null);
  push(
    'cluster.join',
    seconds,
    's',
    `A's data directory filled with ${int(versions)} versions (${int(keys)} keys × ${bench.largeVersions}, ~205-byte documents; embedded putMany in batches of ${int(c.prepBatch)} then compact(), ${sec(prep.writeMs + prep.compactMs)}), then A started (--cluster; serving in ${sec(A.readyAt - A.spawnedAt)}) and B joined it (B had A's root ${sec(b.at - B.spawnedAt)} after it was spawned; ${describeCpu([A, B], bCpu)}); ` +
      `then an empty C spawned with --join A: it served after ${sec(C.readyAt - C.spawnedAt)}, and its /v1/status (polled every 250 ms) reported A's stateRoot ${seconds.toFixed(2)} s after the spawn, with ${int(r.statuses[0]!.versions)} versions` +
      `${snapshot !== undefined && snapshot !== null ? `; C logged the snapshot applied (${int(Number(snapshot[1]))} versions) ${sec(Number(snapshot[2]))} after it asked for it` : ''}; C used ${cCpu !== undefined ? sec(cCpu) : '?'} of CPU by then, RSS ${rss !== undefined ? `${(rss / 1e6).toFixed(0)} MB` : '?'}; while C joined, ${describeCpu([A, B, C], { ...w, members: [...w.members, cCpu !== undefined ? (cCpu / (w.seconds * 1000)) * 100 : Number.NaN] })}`,
  );
  details.push(`**Join**: C's log about the snapshot: ${C.snapshotLog.join(' | ') || 'nothing'}`);
  log(`join: C has A's state root ${seconds.toFixed(2)} s after it was spawned (${int(r.statuses[0]!.versions)} versions)`);
}

// ---- 3. partition ------------------------------------------------------------------

async function partitionRun(c: ClusterBenchConfig, s: Scope, push: Push, problems: string[], details: string[]): Promise<void> {
  const partition = new Partition();
  const [pA, pB, pC] = [await s.proxy(partition), await s.proxy(partition), await s.proxy(partition)];
  const A = await s.start({ name: 'A', dir: s.dir('a'), advertise: pA.address });
  pA.targetPort = A.port;
  pA.member = A.id;
  // B and C learn their own port only once started; until then their proxies refuse connections and A retries.
  const B = await s.start({ name: 'B', dir: s.dir('b'), join: pA.address, advertise: pB.address });
  pB.targetPort = B.port;
  pB.member = B.id;
  const C = await s.start({ name: 'C', dir: s.dir('c'), join: pA.address, advertise: pC.address });
  pC.targetPort = C.port;
  pC.member = C.id;
  const members = [A, B, C];
  const proxies = [pA, pB, pC];
  await waitHealthy(members, 30_000);
  await waitSameRoot(members, 30_000);
  const links = proxies.map((p) => p.open);
  const sockets = await Promise.all(members.map((m) => openSocket(m.url)));
  try {
    const closed = partition.cut([[A.id], [B.id, C.id]]);
    const cutAt = performance.now();
    log(`partition: {A} | {B, C} cut (${closed} links closed; ${links.join('/')} open through the proxies of A/B/C before); writing ${int(c.partitionWrites)} versions on each side over ${c.partitionSeconds} s`);
    const runMs = c.partitionSeconds * 1000;
    const rateA = c.partitionWrites / c.partitionSeconds;
    const side = (m: Member, socket: (typeof sockets)[number], rate: number, offset: number): Promise<PacedWrites> =>
      pacedPuts(socket, {
        rate,
        ms: runMs,
        namespace: 'part',
        key: (i) => keyName((offset + i * 7) % c.partitionKeys),
        value: (i) => JSON.stringify({ side: m.name, i, ...makeDoc((offset + i * 7) % c.partitionKeys, i) }),
      });
    const [wA, wB, wC] = await Promise.all([side(A, sockets[0]!, rateA, 0), side(B, sockets[1]!, rateA / 2, 1), side(C, sockets[2]!, rateA / 2, 2)]);
    const writes = [wA, wB, wC];
    for (const [k, w] of writes.entries()) if (w.errors > 0 || w.skipped > 0) problems.push(`cluster partition: writes to ${members[k]!.name}: ${w.errors} errors, ${w.skipped} skipped (first: ${w.firstError ?? '-'})`);
    const sideA = wA.acked - wA.errors;
    const sideBC = wB.acked - wB.errors + wC.acked - wC.errors;
    // The majority side replicates within itself; give it a moment, then record what each side holds.
    await waitSameRoot([B, C], 30_000).catch((e: unknown) => problems.push(`cluster partition: B and C did not agree during the partition: ${String(e)}`));
    const during = await Promise.all(members.map((m) => m.status()));
    const statesDuring = await peerStates(members);
    const partitionSeconds = (performance.now() - cutAt) / 1000;
    if (during[0]!.versions !== sideA || during[1]!.versions !== sideBC || during[2]!.versions !== sideBC) {
      problems.push(`cluster partition: before the heal A holds ${int(during[0]!.versions)} versions (its side wrote ${int(sideA)}), B ${int(during[1]!.versions)} and C ${int(during[2]!.versions)} (their side wrote ${int(sideBC)}): the partition leaked or writes were lost`);
    }
    const refused = proxies.map((p) => p.stats.refused);
    log(`partition: after ${partitionSeconds.toFixed(1)} s: ${statesDuring}; versions A ${int(during[0]!.versions)}, B ${int(during[1]!.versions)}, C ${int(during[2]!.versions)}; dials refused by the proxies of A/B/C: ${refused.join('/')}`);

    // Versions each member holds, every ~0.5 s after the heal, to show how the repair proceeds.
    const timeline: string[] = [];
    let nextAt = 0;
    const progress = (statuses: readonly MemberStatus[], at: number): void => {
      const t = (at - healedAt) / 1000;
      if (t < nextAt) return;
      nextAt = Math.floor(t / 0.5) * 0.5 + 0.5;
      timeline.push(`${t.toFixed(1)} s ${statuses.map((x) => int(x.versions)).join('/')}`);
    };
    const cpu = cpuWindow(members);
    partition.heal();
    const healedAt = performance.now();
    let r: Awaited<ReturnType<typeof waitSameRoot>>;
    try {
      r = await waitSameRoot(members, c.healTimeoutSeconds * 1000, { from: healedAt, pollMs: 200, onPoll: progress });
    } catch (e) {
      details.push(`**Partition, not healed**: ${await peerStates(members)}; versions held after the heal — ${timeline.join('; ')}`);
      throw e;
    }
    const w = cpu();
    const seconds = (r.at - healedAt) / 1000;
    const total = sideA + sideBC;
    const after = r.statuses.map((x) => x.versions);
    if (after.some((v) => v !== total)) problems.push(`cluster partition: after the heal the members hold ${after.map(int).join('/')} versions; ${int(total)} were written`);
    const statesAfter = await peerStates(members);
    push(
      'cluster.heal',
      seconds,
      's',
      `3 fresh members, each behind its own TCP proxy (it advertises the proxy: every cluster link to it runs through it; the proxy names the dialer from the cluster hello, the first WebSocket frame it sends); cut {A} | {B, C}: ${closed} open links closed and every dial across refused (${refused.join('/')} refused by the proxies of A/B/C during the partition); ` +
        `for ${c.partitionSeconds} s paced puts over WebSocket to the same ${int(c.partitionKeys)} keys on both sides: A ${int(sideA)}, B ${int(wB.acked - wB.errors)}, C ${int(wC.acked - wC.errors)}; after ${partitionSeconds.toFixed(1)} s: ${statesDuring}; A held ${int(during[0]!.versions)} versions, B ${int(during[1]!.versions)}, C ${int(during[2]!.versions)}. ` +
        `Healed (dials pass again; links come back when members redial): all three reported the same stateRoot ${seconds.toFixed(2)} s later (/v1/status of each polled every 200 ms: it counts keys and versions, a few ms a call here, so faster polling slows the repair it watches), holding ${after.map(int).join('/')} versions; then ${statesAfter}; ${describeCpu(members, w)}`,
    );
    details.push(`**Partition heal, versions held by A/B/C after the heal**: ${timeline.join('; ')}; ${seconds.toFixed(2)} s: ${after.map(int).join('/')}, same state root`);
    details.push(`**Partition**: proxies A/B/C accepted ${proxies.map((p) => p.stats.accepted).join('/')} connections, identified ${proxies.map((p) => p.stats.identified).join('/')}, refused ${proxies.map((p) => p.stats.refused).join('/')}, closed by the cut ${proxies.map((p) => p.stats.cut).join('/')}, closed before the dialer was known ${proxies.map((p) => p.stats.unidentified).join('/')}`);
    log(`partition: healed; same state root on all three ${seconds.toFixed(2)} s after the heal (${after.map(int).join('/')} versions)`);
  } finally {
    await Promise.all(sockets.map(closeSocket));
  }
}

// ---- 4. anti-entropy cost ----------------------------------------------------------------

async function idleRun(bench: BenchConfig, s: Scope, push: Push, problems: string[], details: string[]): Promise<void> {
  const c = bench.cluster;
  const keys = 10_000;
  const perKey = Math.max(1, Math.round(c.idleVersions / keys));
  const dirA = s.dir('a');
  const prep = await prepare(dirA, keys, perKey, c.prepBatch);
  // The same data served by a plain (non-cluster) kdelta start, for comparison.
  const dirSolo = s.dir('solo');
  await mkdir(dirSolo, { recursive: true });
  await cp(dirA, dirSolo, { recursive: true });
  const A = await s.start({ name: 'A', dir: dirA });
  const B = await s.start({ name: 'B', dir: s.dir('b'), join: A.address });
  const C = await s.start({ name: 'C', dir: s.dir('c'), join: A.address });
  const solo = await s.start({ name: 'solo', dir: dirSolo, standalone: true });
  const members = [A, B, C];
  await waitHealthy(members, 60_000);
  const synced = await waitSameRoot(members, 120_000, { root: prep.stateRoot });
  log(`idle: A, B, C hold the same ${int(synced.statuses[0]!.versions)} versions; settling ${c.idleSettleSeconds} s, then sampling CPU for ${c.idleSeconds} s`);
  await sleep(c.idleSettleSeconds * 1000);
  const cpu = cpuWindow([...members, solo]);
  const perSecond: number[][] = members.map(() => []);
  let last = members.map((m) => m.cpuMs() ?? Number.NaN);
  for (let t = 0; t < c.idleSeconds; t++) {
    await sleep(1000);
    const now = members.map((m) => m.cpuMs() ?? Number.NaN);
    now.forEach((v, i) => perSecond[i]!.push(v - last[i]!));
    last = now;
  }
  const w = cpu();
  const end = await Promise.all(members.map((m) => m.status()));
  if (end.some((x) => x.stateRoot !== prep.stateRoot || x.versions !== synced.statuses[0]!.versions)) problems.push(`cluster idle: the members changed while quiet: ${end.map((x, i) => `${members[i]!.name} ${int(x.versions)} versions, root ${x.stateRoot.slice(0, 12)}`).join('; ')}`);
  const what = `3 members holding the same ${int(synced.statuses[0]!.versions)} versions (${int(keys)} keys × ${perKey}; A filled before it started, B and C joined it), no writes, no clients; after ${c.idleSettleSeconds} s of rest once they agreed (V8's memory reducer runs full GCs once, ~30 s after a join: ~0.3 s of CPU that is not the steady cost), CPU time (utime + stime, /proc/<pid>/stat, 10 ms ticks) over ${w.seconds.toFixed(1)} s as % of one core: ${members.map((m, i) => `${m.name} ${pct(w.members[i]!)}`).join(', ')}; the same data served by a plain kdelta start without --cluster: ${pct(w.members[3]!)}; busiest second per member (ms of CPU): ${members.map((m, i) => `${m.name} ${Math.max(...perSecond[i]!).toFixed(0)}`).join(', ')} (bursts of 50–250 ms over one or two seconds are V8 memory-reducer GCs, "Mark-Compact (reduce)" under --trace-gc, once per member some tens of seconds after its heap last grew); without the seconds over 30 ms: ${members.map((m, i) => { const quiet = perSecond[i]!.filter((x) => x <= 30); return `${m.name} ${quiet.length > 0 ? pct(quiet.reduce((a, b) => a + b, 0) / quiet.length / 10) : '—'}`; }).join(', ')}; machine ${pct(w.machine)} busy (other work on the machine shows here, not in the members' figures)`;
  details.push(`**Quiet members, ms of CPU in each second of the window**: ${members.map((m, i) => `${m.name}: ${perSecond[i]!.map((x) => x.toFixed(0)).join(' ')}`).join('; ')}`);
  const ops: OperationId[] = ['cluster.idle.a', 'cluster.idle.b', 'cluster.idle.c'];
  members.forEach((m, i) => push(ops[i]!, w.members[i]!, '% of a core', i === 0 ? what : `member ${m.name}; see member A's note`));
  log(`idle: CPU ${members.map((m, i) => `${m.name} ${pct(w.members[i]!)}`).join(', ')}; plain server ${pct(w.members[3]!)}`);
}

/** The whole section. */
export async function clusterSection(bench: BenchConfig, root: string, options: ClusterSectionOptions = {}): Promise<ClusterSectionResult> {
  const t0 = performance.now();
  const c = bench.cluster;
  const rows: Row[] = [];
  const problems: string[] = [];
  const details: string[] = [];
  const nodeArgs = options.profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [];
  const only = options.only ?? CLUSTER_PARTS;
  const push: Push = (operation, value, unit, notes) => rows.push({ subject: 'koru', operation, value, unit, notes });
  const step = async (part: ClusterPart, name: string, body: (s: Scope) => Promise<void>): Promise<void> => {
    if (!only.includes(part)) return;
    const s0 = performance.now();
    const scope = new Scope(root, part, problems, nodeArgs);
    try {
      await body(scope);
    } catch (error) {
      problems.push(`cluster ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      console.error(`[cluster] PROBLEM: ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await scope.close();
    }
    log(`${name} took ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  };
  await step('lag', 'replication lag', (s) => lagRun(c, s, push, problems, details));
  await step('join', 'join', (s) => joinRun(bench, s, push, problems, details));
  await step('partition', 'partition', (s) => partitionRun(c, s, push, problems, details));
  await step('idle', 'anti-entropy cost', (s) => idleRun(bench, s, push, problems, details));
  return { rows, problems, details, seconds: (performance.now() - t0) / 1000 };
}
