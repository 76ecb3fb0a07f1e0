/**
 * Where merges and flushes run. The engine hands a {@link MergeJob} to a runner and
 * installs the result when the promise settles; a runner decides the thread. On Node,
 * `WorkerMergeRunner` (`@koru/storage/node`) runs jobs in a worker thread, so the event
 * loop never waits for one; {@link InlineMergeRunner} runs them in the calling thread,
 * for the in-memory directory and for tests.
 */
import { InvalidArgumentError } from '@koru/engine';
import { ClosedError } from '../errors.js';
import type { StorageDirectory } from './io.js';
import { runMerge, type CreateMergeFilter, type MergeFilter, type MergeJob, type MergeResult } from './merge.js';

/** Runs merge jobs, one at a time, in order. */
export interface MergeRunner {
  /** Runs `job` after the jobs before it; rejects with the job's KoruError (its outputs then removed). */
  run(job: MergeJob): Promise<MergeResult>;
  /**
   * Stops: jobs not started reject with CLOSED, and so does later `run`. A running job
   * is abandoned where the runner can (a worker is terminated: CLOSED, its outputs
   * removed) or else finishes first. Resolves once nothing runs. Idempotent.
   */
  close(): Promise<void>;
  /**
   * Hands over a finished job's result now, if the runner can tell synchronously that one
   * is waiting: its promise then settles (and the engine installs it) in a microtask.
   * Results otherwise arrive as a macrotask, which a caller that only awaits settled
   * promises — a tight loop of awaited reads — never lets run: the engine calls this on
   * its reads so such a loop still gets flushes and merges installed. Must be cheap.
   */
  poll?(): void;
}

/** Filters known by name in this thread (see {@link registerMergeFilter}). */
const registered = new Map<string, CreateMergeFilter>();

/**
 * Makes a filter known by `name` in this thread: a job whose `filter.module` is `name`
 * then uses `create` instead of importing a module. Each thread that runs merges
 * registers the filters it may be given (the Node merge worker registers retention's);
 * explicit calls rather than an import's side effect, which bundlers may drop. Names
 * should not look like module specifiers (retention's is `koru:retention`).
 */
export function registerMergeFilter(name: string, create: CreateMergeFilter): void {
  if (typeof name !== 'string' || name.length === 0 || typeof create !== 'function') throw new InvalidArgumentError('registerMergeFilter needs a name and a function');
  registered.set(name, create);
}

/**
 * Imports the job's filter module (or takes the filter registered under its name) and builds its filter (undefined when the job names
 * none). In this package's CommonJS build the import is compiled to `require`, so there
 * the specifier must be one `require` takes (a package name or a path, a CommonJS
 * module); the worker runner always runs the ES module build, which takes `file:` URLs.
 * @throws INVALID_ARGUMENT when the module does not export `createMergeFilter`
 */
export async function loadMergeFilter(job: MergeJob): Promise<MergeFilter | undefined> {
  if (job.filter === undefined) return undefined;
  const { module, params } = job.filter;
  const known = registered.get(module);
  if (known !== undefined) {
    const filter = known(params);
    if (typeof filter !== 'function') throw new InvalidArgumentError(`the merge filter ${module} did not build a function`);
    return filter;
  }
  // A specifier known only at run time: bundlers must leave it to the platform.
  const loaded = (await import(/* @vite-ignore */ /* webpackIgnore: true */ module)) as { createMergeFilter?: unknown };
  if (typeof loaded.createMergeFilter !== 'function') {
    throw new InvalidArgumentError(`the merge filter module ${module} does not export a function createMergeFilter`);
  }
  const filter = (loaded.createMergeFilter as CreateMergeFilter)(params);
  if (typeof filter !== 'function') throw new InvalidArgumentError(`createMergeFilter of ${module} did not return a function`);
  return filter;
}

/**
 * Runs jobs with {@link runMerge} in the calling thread, each after a macrotask (so the
 * caller's synchronous work and pending I/O callbacks run first), one at a time. The
 * event loop is blocked while a job runs: for small directories (in memory) and tests.
 */
export class InlineMergeRunner implements MergeRunner {
  readonly #dir: StorageDirectory;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(dir: StorageDirectory) {
    this.#dir = dir;
  }

  run(job: MergeJob): Promise<MergeResult> {
    if (this.#closed) return Promise.reject(new ClosedError('the merge runner is closed'));
    const result = this.#tail.then(async () => {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      if (this.#closed) throw new ClosedError('the merge runner is closed');
      const filter = await loadMergeFilter(job);
      return runMerge(this.#dir, job, filter);
    });
    // The next job waits for this one to settle, whatever its outcome.
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    // The job running now (if any) finishes: it runs synchronously once started.
    await this.#tail;
  }
}
