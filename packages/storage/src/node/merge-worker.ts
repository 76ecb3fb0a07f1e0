/**
 * The merge worker's entry (a worker_threads module, started by WorkerMergeRunner): it
 * opens the engine's directory itself and runs each posted job with runMerge, answering
 * with the result or the error as data. One job at a time; the runner never posts a
 * second before the first is answered.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runMerge } from '../lsm/merge.js';
import { loadMergeFilter, registerMergeFilter } from '../lsm/merge-runner.js';
import { createReclaimFilter, RECLAIM_FILTER } from '../reclaim-filter.js';
import { createRetentionFilter, RETENTION_FILTER } from '../retention-filter.js';
import { NodeDirectory } from './node-directory.js';
import { toWire, type WorkerReply, type WorkerRequest } from './worker-merge-runner.js';

const port = parentPort;
if (port === null) throw new Error('merge-worker is the entry of a worker thread, not a module to import');
const dir = new NodeDirectory((workerData as { dirPath: string }).dirPath);
// The filters the store may name in its jobs.
registerMergeFilter(RETENTION_FILTER, createRetentionFilter);
registerMergeFilter(RECLAIM_FILTER, createReclaimFilter);

port.on('message', (request: WorkerRequest) => {
  void answer(request).then((reply) => port.postMessage(reply));
});

async function answer({ id, job }: WorkerRequest): Promise<WorkerReply> {
  try {
    const filter = await loadMergeFilter(job);
    return { id, result: runMerge(dir, job, filter) };
  } catch (e) {
    return { id, error: toWire(e) };
  }
}
