// WorkerMergeRunner through the built package (a worker loads dist files): jobs run in
// another thread, errors keep their codes, a dead worker fails its job (leaving no
// output) and the next job gets a fresh one, close() stops it, and an idle runner never
// keeps a process alive. Segments are written with the source writer: files are the
// interface between the two.
import { ErrorCodes } from '@koru/engine';
import { CorruptionError, StorageFullError } from '@koru/storage';
import { IDLE_WORKER_MS, WorkerMergeRunner } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { packageDirOf, requireFreshBuild, spawnNode } from '@koru/vitest-preset/package-checks';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MergeJob } from '../src/lsm/merge.js';
import { SegmentWriter } from '../src/lsm/segment-writer.js';
import { KIND_PUT, segmentFileName, type Entry } from '../src/lsm/types.js';
import { NodeDirectory } from '../src/node/node-directory.js';
import { readSegment } from './lsm-helpers.js';

const pkgDir = packageDirOf(import.meta.url);
const filters = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'merge-filters.mjs')).href;
const enc = new TextEncoder();
const dec = new TextDecoder();

beforeAll(() => requireFreshBuild(pkgDir));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(): { path: string; dir: NodeDirectory; runner: WorkerMergeRunner } {
  const { dir: path, cleanup } = tempDir('koru-merge-worker-');
  const runner = new WorkerMergeRunner(path);
  cleanups.push(cleanup, () => runner.close());
  return { path, dir: new NodeDirectory(path), runner };
}

function writeSegment(dir: NodeDirectory, n: number, entries: readonly Entry[]): void {
  const file = dir.open(segmentFileName(n), 'create');
  const w = new SegmentWriter(file, n, { blockBytes: 512 });
  for (const e of entries) w.add(e.key, e.kind, e.value);
  w.finish();
  file.close();
}


const entries = (count: number, prefix = 'k'): Entry[] =>
  Array.from({ length: count }, (_, i) => ({ key: `${prefix}${String(i).padStart(6, '0')}`, kind: KIND_PUT, value: enc.encode(`value ${i}`) }));

function job(inputs: MergeJob['inputs'], more: Partial<MergeJob> = {}): MergeJob {
  return { inputs, outputLevel: 1, firstFileNumber: 100, maxOutputs: 20, targetFileBytes: 1 << 30, dropDeletes: false, writer: {}, ...more };
}

const segmentsIn = (path: string): string[] => readdirSync(path).filter((f) => f.endsWith('.kseg')).sort();

describe('WorkerMergeRunner', () => {
  it('runs the job in another thread while the event loop keeps running timers', async () => {
    const { dir, runner } = setup();
    writeSegment(dir, 1, entries(3));
    // The filter writes the id of the thread it ran in as each value: the main thread's is 0.
    const threaded = await runner.run(job([{ segment: 1 }], { filter: { module: filters, params: { mode: 'thread' } } }));
    const ids = readSegment(dir, 100).map((e) => Number(dec.decode(e.value)));
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toBeGreaterThan(0);
    expect(threaded).toMatchObject({ read: 3, written: 3 });

    // A merge that keeps its thread busy ~600 ms: a 1 ms timer here keeps firing meanwhile
    // (in the calling thread it could fire at most once, after the merge).
    writeSegment(dir, 2, entries(120));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const slow = await runner.run(job([{ segment: 2 }], { firstFileNumber: 200, filter: { module: filters, params: { mode: 'slow', ms: 5 } } }));
    clearInterval(timer);
    expect(slow.written).toBe(120);
    expect(ticks).toBeGreaterThan(20);
  });

  it('keeps its worker between jobs, retires it after a while without one, and starts a new one for the next job', async () => {
    const { dir, runner } = setup();
    writeSegment(dir, 1, entries(2));
    const threadOf = async (n: number): Promise<number> => {
      await runner.run(job([{ segment: 1 }], { firstFileNumber: n, filter: { module: filters, params: { mode: 'thread' } } }));
      return Number(dec.decode(readSegment(dir, n)[0]!.value));
    };
    const first = await threadOf(100);
    expect(await threadOf(200)).toBe(first);
    await new Promise((r) => setTimeout(r, IDLE_WORKER_MS + 500));
    const next = await threadOf(300);
    expect(next).toBeGreaterThan(0);
    expect(next).not.toBe(first);
  });

  it('poll() hands over a finished job without a macrotask; without it, awaiting settled promises never sees the reply', async () => {
    const { dir, runner } = setup();
    writeSegment(dir, 1, entries(2000));
    // Awaits only settled promises for up to `ms`: timers, I/O and worker messages never run.
    const spinMicrotasks = async (settled: () => boolean, ms: number, poll: boolean): Promise<void> => {
      const deadline = performance.now() + ms;
      while (!settled() && performance.now() < deadline) {
        if (poll) runner.poll();
        await Promise.resolve();
      }
    };
    let first: unknown;
    const firstJob = runner.run(job([{ segment: 1 }]));
    void firstJob.then((r) => (first = r));
    // The job is done well within the 1.5 s on an idle machine; its reply waits for a
    // macrotask that never comes (on a loaded one it may still be running: same answer).
    await spinMicrotasks(() => first !== undefined, 1_500, false);
    expect(first).toBeUndefined();
    expect(await firstJob).toMatchObject({ read: 2000, written: 2000 });

    let second: unknown;
    void runner.run(job([{ segment: 1 }], { firstFileNumber: 200 })).then((r) => (second = r));
    await spinMicrotasks(() => second !== undefined, 20_000, true);
    expect(second).toMatchObject({ read: 2000, written: 2000 });
    expect(readSegment(dir, 200)).toHaveLength(2000);
    // The reply was taken once: the port's 'message' event does not answer it again.
    await new Promise((r) => setTimeout(r, 50));
    const third = await runner.run(job([{ segment: 1 }], { firstFileNumber: 300 }));
    expect(third.written).toBe(2000);
  });

  it('returns errors as KoruErrors with their codes and classes', async () => {
    const { path, dir, runner } = setup();
    writeSegment(dir, 1, entries(500));
    writeSegment(dir, 2, entries(500));
    // Damage a data block of segment 2 on disk.
    const file = join(path, segmentFileName(2));
    const bytes = readFileSync(file);
    bytes[100]! ^= 0x10;
    writeFileSync(file, bytes);

    const corrupt = await runner.run(job([{ segment: 2 }, { segment: 1 }])).catch((e: unknown) => e);
    expect(corrupt).toBeInstanceOf(CorruptionError);
    expect(corrupt).toMatchObject({ code: ErrorCodes.CORRUPTION, details: { file: expect.stringContaining(segmentFileName(2)), offset: expect.any(Number) } });

    const full = await runner.run(job([{ segment: 1 }], { filter: { module: filters, params: { mode: 'full' } } })).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(StorageFullError);
    expect(full).toMatchObject({ code: ErrorCodes.STORAGE_FULL, message: 'no space left (from the test filter)' });

    const missing = await runner.run(job([{ segment: 9 }])).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: ErrorCodes.IO_ERROR, details: { code: 'ENOENT' } });

    const plain = await runner.run(job([{ segment: 1 }], { filter: { module: filters, params: { mode: 'throw' } } })).catch((e: unknown) => e);
    expect(plain).toMatchObject({ code: ErrorCodes.INTERNAL, message: 'filter failed on purpose' });
    // The worker's stack travels as the cause.
    expect(String((plain as Error).cause && ((plain as Error).cause as Error).stack)).toContain('merge-filters.mjs');

    const bad = await runner.run(job([{ segment: 1 }], { maxOutputs: 0 })).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    const uncloneable = await runner.run(job([{ segment: 1 }], { filter: { module: filters, params: { f: () => 1 } } })).catch((e: unknown) => e);
    expect(uncloneable).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });

    // None of them left an output, and the runner still works.
    expect(segmentsIn(path)).toEqual([segmentFileName(1), segmentFileName(2)]);
    await expect(runner.run(job([{ segment: 1 }]))).resolves.toMatchObject({ written: 500 });
  });

  it('fails the job of a worker that dies (removing its outputs) and runs the next job in a fresh worker', async () => {
    const { path, dir, runner } = setup();
    writeSegment(dir, 1, entries(2000));
    // Small outputs: several are written before the worker exits at entry 1500.
    const dying = runner.run(job([{ segment: 1 }], { targetFileBytes: 8 * 1024, filter: { module: filters, params: { mode: 'exit', after: 1500 } } }));
    const next = runner.run(job([{ segment: 1 }], { firstFileNumber: 200, filter: { module: filters, params: { mode: 'thread' } } }));
    const died = await dying.catch((e: unknown) => e);
    expect(died).toMatchObject({ code: ErrorCodes.IO_ERROR, details: { exitCode: 3 } });
    const ok = await next;
    expect(ok.written).toBe(2000);
    expect(segmentsIn(path)).toEqual([segmentFileName(1), segmentFileName(200)]);
    expect(Number(dec.decode(readSegment(dir, 200)[0]!.value))).toBeGreaterThan(0);
  });

  it('close() rejects the running and queued jobs with CLOSED, removes the running one’s outputs, and refuses new jobs', async () => {
    const { path, dir, runner } = setup();
    writeSegment(dir, 1, entries(400));
    const running = runner.run(job([{ segment: 1 }], { targetFileBytes: 1024, filter: { module: filters, params: { mode: 'slow', ms: 5 } } }));
    const queued = runner.run(job([{ segment: 1 }], { firstFileNumber: 200 }));
    const outcomes = Promise.all([running.catch((e: unknown) => e), queued.catch((e: unknown) => e)]);
    // Let it write a few outputs first.
    await new Promise((r) => setTimeout(r, 600));
    await runner.close();
    expect(await outcomes).toEqual([expect.objectContaining({ code: ErrorCodes.CLOSED }), expect.objectContaining({ code: ErrorCodes.CLOSED })]);
    await expect(runner.run(job([{ segment: 1 }]))).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    expect(segmentsIn(path)).toEqual([segmentFileName(1)]);
  });

  it.each([
    ['ESM', '--input-type=module', `import { IDLE_WORKER_MS, WorkerMergeRunner } from '@koru/storage/node';`],
    ['CJS', '--input-type=commonjs', `const { WorkerMergeRunner } = require('@koru/storage/node');`],
  ])('%s build: finds its worker, keeps the process alive while a job runs, and not once idle', (_format, flag, load) => {
    const { dir: path, cleanup } = tempDir('koru-merge-worker-');
    cleanups.push(cleanup);
    writeSegment(new NodeDirectory(path), 1, entries(1000));
    // Nothing but the job keeps this process alive; after it, nothing at all (no close()).
    const script = `${load}
      const runner = new WorkerMergeRunner(${JSON.stringify(path)});
      runner.run({ inputs: [{ segment: 1 }], outputLevel: 1, firstFileNumber: 100, maxOutputs: 1, targetFileBytes: 1e9, dropDeletes: false, writer: {} })
        .then((r) => console.log('written', r.written), (e) => console.log('failed', e.code, e.message));`;
    const run = spawnNode(pkgDir, [flag, '-e', script], { timeout: 20_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('written 1000');
    expect(run.status).toBe(0);
    expect(segmentsIn(path)).toEqual([segmentFileName(1), segmentFileName(100)]);
  });
});
