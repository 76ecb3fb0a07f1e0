/**
 * Starting the database worker. The default is written in the one form bundlers know
 * (`new Worker(new URL('./browser-worker.js', import.meta.url), { type: 'module' })`):
 * Vite and webpack emit the worker file and rewrite the URL; unbundled, the URL is the
 * file next to this package's browser build. The `worker` start option points elsewhere.
 */
import type { WorkerSource } from '../platform.js';

/** Starts the database worker from `source`, or from the file shipped next to this build. */
export function spawnWorker(source: WorkerSource | undefined): Worker {
  if (typeof source === 'function') return source();
  if (source !== undefined) return new Worker(source, { type: 'module' });
  return new Worker(new URL('./browser-worker.js', import.meta.url), { type: 'module' });
}
