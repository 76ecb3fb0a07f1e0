// Background threads below the event loop's CPU priority (src/node/thread-priority.ts):
// the merge worker lowers its own thread before a job — a flush to FLUSH_NICE, a merge to
// MERGE_NICE — and never raises it; the calling thread keeps its priority. Checked
// in /proc, where the kernel keeps each thread's nice value (Linux only: elsewhere the
// functions change nothing and say so).
import { WorkerMergeRunner } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { packageDirOf, requireFreshBuild } from '@koru/vitest-preset/package-checks';
import { existsSync, readdirSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MergeJob } from '../src/lsm/merge.js';
import { SegmentWriter } from '../src/lsm/segment-writer.js';
import { KIND_PUT, segmentFileName } from '../src/lsm/types.js';
import { WalWriter } from '../src/lsm/wal.js';
import { NodeDirectory } from '../src/node/node-directory.js';
import { FLUSH_NICE, lowerThreadPriority, MERGE_NICE, threadId, threadNice } from '../src/node/thread-priority.js';

const linux = existsSync('/proc/thread-self');
const pkgDir = packageDirOf(import.meta.url);
const enc = new TextEncoder();

beforeAll(() => requireFreshBuild(pkgDir));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The nice value of every thread of this process, by thread id. */
function nices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync('/proc/self/task')) {
    const n = threadNice(Number(t));
    if (n !== undefined) out.set(Number(t), n);
  }
  return out;
}

function setup(): { path: string; dir: NodeDirectory; runner: WorkerMergeRunner } {
  const { dir: path, cleanup } = tempDir('koru-thread-priority-');
  const runner = new WorkerMergeRunner(path);
  cleanups.push(cleanup, () => runner.close());
  return { path, dir: new NodeDirectory(path), runner };
}

const job = (inputs: MergeJob['inputs'], more: Partial<MergeJob> = {}): MergeJob => ({
  inputs,
  outputLevel: 1,
  firstFileNumber: 100,
  maxOutputs: 4,
  targetFileBytes: 1 << 30,
  dropDeletes: false,
  writer: {},
  ...more,
});

const entry = (key: string): { key: string; kind: typeof KIND_PUT; value: Uint8Array } => ({ key, kind: KIND_PUT, value: enc.encode(`value of ${key}`) });

describe.runIf(linux)('thread priority (Linux)', () => {
  it('knows the calling thread: the main thread of a process has the process id', () => {
    // vitest may run this file in a worker thread: its id is then another of this process's threads.
    const tid = threadId()!;
    expect(readdirSync('/proc/self/task').map(Number)).toContain(tid);
    expect(threadNice(tid)).toBe(nices().get(tid));
    expect(threadNice(2 ** 30)).toBeUndefined();
  });

  it('refuses a value that is not a nice value', () => {
    expect(() => lowerThreadPriority(20)).toThrow(RangeError);
    expect(() => lowerThreadPriority(1.5)).toThrow(RangeError);
  });

  it('runs a flush at FLUSH_NICE, a merge at MERGE_NICE, never raises a thread again, and leaves the other threads alone', async () => {
    const { dir, runner } = setup();
    const writeLog = (n: number, keys: readonly string[]): void => {
      const log = WalWriter.create(dir, n, { sync: 'always' });
      log.append(keys.map(entry));
      log.close();
    };
    writeLog(3, ['a', 'b']);
    const before = nices();
    const flushed = await runner.run(job([{ wal: 3 }], { outputLevel: 0, maxOutputs: 1 }));
    expect(flushed.written).toBe(2);
    const started = [...nices()].filter(([tid]) => !before.has(tid));
    const at = (): number[] => started.map(([tid]) => threadNice(tid)).filter((n) => n !== undefined);
    // The worker's thread (V8 starts helper threads of its own with a worker: those keep their value).
    expect(at()).toContain(FLUSH_NICE);
    const worker = started.find(([, n]) => n === FLUSH_NICE)![0];

    // The same worker given a merge goes lower...
    const file = dir.open(segmentFileName(1), 'create');
    const w = new SegmentWriter(file, 1, {});
    for (const k of ['c', 'd', 'e']) w.add(k, KIND_PUT, enc.encode(k));
    w.finish();
    file.close();
    expect((await runner.run(job([{ segment: 1 }], { firstFileNumber: 200 }))).written).toBe(3);
    expect(threadNice(worker)).toBe(MERGE_NICE);
    // ...and stays there for the next flush (raising it back needs privileges).
    writeLog(4, ['f']);
    expect((await runner.run(job([{ wal: 4 }], { outputLevel: 0, maxOutputs: 1, firstFileNumber: 300 }))).written).toBe(1);
    expect(threadNice(worker)).toBe(MERGE_NICE);

    // Every thread that was there before (the test's own among them) kept its value.
    const after = nices();
    for (const [tid, n] of before) if (after.has(tid)) expect(after.get(tid), `thread ${tid}`).toBe(n);
    expect(threadNice(threadId()!)).toBe(before.get(threadId()!));
  });
});
