/**
 * The merge worker's entry (a worker_threads module, started by WorkerMergeRunner): it
 * opens the engine's directory itself and runs each posted job with runMerge, answering
 * with the result or the error as data. One job at a time; the runner never posts a
 * second before the first is answered. The thread runs below the event loop's CPU
 * priority (see thread-priority.ts): a flush a little lower, a merge lower still.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runMerge } from '../lsm/merge.js';
import { loadMergeFilter, registerMergeFilter } from '../lsm/merge-runner.js';
import { createReclaimFilter, RECLAIM_FILTER } from '../reclaim-filter.js';
import { createRetentionFilter, RETENTION_FILTER } from '../retention-filter.js';
import { NodeDirectory } from './node-directory.js';
import { FLUSH_NICE, lowerThreadPriority, MERGE_NICE } from './thread-priority.js';
import { toWire, type WorkerReply, type WorkerRequest, type WorkerStart } from './worker-merge-runner.js';

const port = parentPort;
if (port === null) throw new Error('merge-worker is the entry of a worker thread, not a module to import');
const start = workerData as WorkerStart;
const dir = new NodeDirectory(start.dirPath);
const signal = new Int32Array(start.signal);
// The filters the store may name in its jobs.
registerMergeFilter(RETENTION_FILTER, createRetentionFilter);
registerMergeFilter(RECLAIM_FILTER, createReclaimFilter);

port.on('message', (request: WorkerRequest) => {
  void answer(request).then((reply) => {
    start.replies.postMessage(reply);
    // After the post: a runner that sees the signal finds the reply on its port.
    Atomics.store(signal, 0, 1);
  });
});

async function answer({ id, job }: WorkerRequest): Promise<WorkerReply> {
  try {
    // A flush reads logs (a merge only segments). Lowered per job and never raised again:
    // a runner's worker is given one kind of job (the tree has a flush runner and a merge runner).
    lowerThreadPriority(job.inputs.some((i) => 'wal' in i) ? FLUSH_NICE : MERGE_NICE);
    const filter = await loadMergeFilter(job);
    return { id, result: runMerge(dir, job, filter) };
  } catch (e) {
    return { id, error: toWire(e) };
  }
}
