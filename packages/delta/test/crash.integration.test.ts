// kill -9 at a random moment, again and again on the same directory: every write the
// database acknowledged must be there after reopening, with intact hash chains.
// KORU_CRASH_CYCLES sets the number of cycles (default 30); KORU_SEED replays the
// random kill delays (the seed is printed).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { KoruDelta, type Version } from '@koru/delta';
import { expectKoruError } from './support.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.mjs', import.meta.url));
const CYCLES = Number(process.env.KORU_CRASH_CYCLES ?? 30);

interface Ack {
  readonly ns: string;
  readonly key: string;
  readonly versionId: string;
  readonly prev: string | null;
  readonly op: string;
  readonly cycle: number;
}

interface Line {
  readonly op: string;
  readonly pid?: number;
  readonly versions?: number;
  readonly ns?: string;
  readonly key?: string;
  readonly versionId?: string;
  readonly prev?: string | null;
  readonly items?: ReadonlyArray<{ ns: string; key: string; versionId: string; prev: string | null }>;
}

const children = new Set<ChildProcess>();

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

async function killAll(): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited(child);
    children.delete(child);
  }
}

afterEach(killAll);
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts the writer; resolves once it printed its ready line. */
function startWriter(
  dir: string,
  sync: string,
  seed: number,
): Promise<{ child: ChildProcess; lines: Line[]; stderr: () => string; ready: Line }> {
  const child = spawn(process.execPath, [WRITER, dir, sync, String(seed), String(64 * 1024)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: Line[] = [];
  let partial = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer not ready after 15 s; stderr: ${err}`)), 15_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`writer exited before ready (code ${code}, signal ${signal}); stderr: ${err}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      partial += d;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        // Only complete lines count: a write is acknowledged by its whole line.
        const line = JSON.parse(partial.slice(0, nl)) as Line;
        partial = partial.slice(nl + 1);
        lines.push(line);
        if (line.op === 'ready') {
          clearTimeout(timer);
          resolve({ child, lines, stderr: () => err, ready: line });
        }
      }
    });
  });
}

function acksOf(lines: readonly Line[], cycle: number): Ack[] {
  const acks: Ack[] = [];
  for (const l of lines) {
    if (l.op === 'put' || l.op === 'delete') acks.push({ ns: l.ns!, key: l.key!, versionId: l.versionId!, prev: l.prev!, op: l.op, cycle });
    else if (l.op === 'putMany') for (const i of l.items!) acks.push({ ...i, op: 'putMany', cycle });
  }
  return acks;
}

/** Reopens the directory and checks every acknowledged write so far. */
async function checkAll(dir: string, acks: readonly Ack[], warnings: string[]): Promise<number> {
  const db = await KoruDelta.start({ path: dir, onWarning: (m) => warnings.push(m) });
  try {
    const byKey = new Map<string, Ack[]>();
    for (const a of acks) {
      const id = `${a.ns}\u0000${a.key}`;
      const list = byKey.get(id);
      if (list) list.push(a);
      else byKey.set(id, [a]);
    }
    // Plain checks collected into one list: tens of thousands of expect() calls would
    // dominate the run time.
    const problems: string[] = [];
    for (const [id, list] of byKey) {
      const [ns, key] = id.split('\u0000') as [string, string];
      const history = await db.history(ns, key);
      history.forEach((v, i) => {
        const prev = i === 0 ? null : history[i - 1]!;
        if (v.previousVersion !== (prev?.versionId ?? null)) problems.push(`${ns}/${key}: chain broken at history[${i}]`);
        if (prev !== null && !(v.hlc > prev.hlc)) problems.push(`${ns}/${key}: hlc not increasing at history[${i}]`);
      });
      const index = new Map<string, Version>(history.map((v) => [v.versionId, v]));
      for (const a of list) {
        const v = index.get(a.versionId);
        const what = `acknowledged ${a.op} of ${ns}/${key} in cycle ${a.cycle} (${a.versionId})`;
        if (v === undefined) problems.push(`${what} is missing after kill -9`);
        else if (v.previousVersion !== a.prev || v.deleted !== (a.op === 'delete')) problems.push(`${what} came back different`);
      }
    }
    expect(problems).toEqual([]);
    const report = await db.verify();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    return (await db.stats()).versions;
  } finally {
    await db.close();
  }
}

describe('crash safety', () => {
  test(`every acknowledged write survives kill -9 (${CYCLES} cycles + 1 with sync: 'always')`, async () => {
    const seed = fcSeed('crash-kill-delays');
    const random = prng(seed);
    const { dir, cleanup } = tempDir('koru-delta-crash-');
    const acks: Ack[] = [];
    const warnings: string[] = [];
    let versions = 0;
    const perCycle: number[] = [];
    try {
      for (let cycle = 0; cycle <= CYCLES; cycle++) {
        const sync = cycle === CYCLES ? 'always' : 'periodic';
        const { child, lines, stderr, ready } = await startWriter(dir, sync, Math.floor(random() * 2 ** 31));
        // The writer sees at least everything the parent saw after the last crash.
        expect(ready.versions).toBeGreaterThanOrEqual(versions);
        await new Promise((r) => setTimeout(r, 20 + Math.floor(random() * 281)));
        child.kill('SIGKILL');
        const { signal, code } = await exited(child);
        children.delete(child);
        expect(signal, `writer died on its own (code ${code}): ${stderr()}`).toBe('SIGKILL');
        // A cycle killed early may have acknowledged nothing yet: that is fine.
        const cycleAcks = acksOf(lines, cycle);
        perCycle.push(cycleAcks.length);
        acks.push(...cycleAcks);
        versions = await checkAll(dir, acks, warnings);
        expect(versions).toBeGreaterThanOrEqual(acks.length);
      }
      console.log(
        `[crash] ${CYCLES + 1} cycles, ${acks.length} acknowledged writes checked, ${versions} versions on disk, ` +
          `${warnings.length} torn tails recovered (seed ${seed}); acknowledged per cycle: ${perCycle.join(' ')}`,
      );
      // The kills must land while writes are flowing, or the test proves nothing.
      expect(perCycle.filter((n) => n > 0).length).toBeGreaterThanOrEqual(Math.ceil((CYCLES + 1) / 2));
    } finally {
      await killAll();
      cleanup();
    }
  }, 180_000);

  test('a second process gets DATABASE_LOCKED naming the holder; the lock of a killed holder is taken over', async () => {
    const { dir, cleanup } = tempDir('koru-delta-lock-');
    try {
      const { child, lines } = await startWriter(dir, 'periodic', 7);
      const e = await expectKoruError(() => KoruDelta.start({ path: dir }), 'DATABASE_LOCKED', new RegExp(`process ${child.pid}`), new RegExp(dir));
      expect(e.details).toMatchObject({ pid: child.pid });
      child.kill('SIGKILL');
      await exited(child);
      children.delete(child);
      const acks = acksOf(lines, 0);
      await checkAll(dir, acks, []);
    } finally {
      await killAll();
      cleanup();
    }
  }, 60_000);
});
