/**
 * Runs the engine's flushes and merges in a worker thread, so the event loop keeps
 * serving reads and writes while megabytes are sorted and written: the main thread only
 * posts a {@link MergeJob} (file numbers, a few options) and receives a
 * {@link MergeResult}. Inputs are immutable files, so nothing is copied between threads.
 */
import { ErrorCodes, InvalidArgumentError, isKoruError, KoruError, type ErrorCode } from '@koru/engine';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { ClosedError, CorruptionError, IoError, StorageFullError } from '../errors.js';
import type { MergeJob, MergeResult } from '../lsm/merge.js';
import type { MergeRunner } from '../lsm/merge-runner.js';
import { segmentFileName } from '../lsm/types.js';
import { NodeDirectory } from './node-directory.js';

/** A job posted to the worker. @internal */
export interface WorkerRequest {
  readonly id: number;
  readonly job: MergeJob;
}

/** A KoruError as data (structured cloning keeps an Error's message, not its code). @internal */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly stack?: string;
}

/**
 * What the worker is started with: the directory, the port its replies go to, and the
 * runner's reply signal (an Int32Array's buffer: the worker sets element 0 to 1 after
 * posting a reply, so {@link WorkerMergeRunner.poll} knows without a system call). @internal
 */
export interface WorkerStart {
  readonly dirPath: string;
  readonly replies: MessagePort;
  readonly signal: SharedArrayBuffer;
}

/** The worker's answer to a {@link WorkerRequest}. @internal */
export type WorkerReply = { readonly id: number; readonly result: MergeResult } | { readonly id: number; readonly error: WireError };

/**
 * An error as data for the trip back: a KoruError keeps its code and details; anything
 * else (a bug, a filter's plain Error) becomes INTERNAL with its message. @internal
 */
export function toWire(e: unknown): WireError {
  const stack = e instanceof Error ? e.stack : undefined;
  const base = isKoruError(e) ? { code: e.code, message: e.message, details: e.details } : { code: ErrorCodes.INTERNAL, message: e instanceof Error ? e.message : String(e), details: {} };
  // Details are JSON-safe by convention; a value that is not clones to a string.
  let details: Readonly<Record<string, unknown>>;
  try {
    details = structuredClone(base.details);
  } catch {
    details = Object.fromEntries(Object.entries(base.details).map(([k, v]) => [k, String(v)]));
  }
  return stack === undefined ? { ...base, details } : { ...base, details, stack };
}

/** The KoruError a {@link WireError} stands for: the same class for the codes the engine raises. */
function fromWire(w: WireError): KoruError {
  // The worker's stack, kept as the cause so a failure still says where it happened.
  const cause = w.stack === undefined ? undefined : Object.assign(new Error(`in the merge worker: ${w.message}`), { stack: w.stack });
  switch (w.code) {
    case ErrorCodes.CORRUPTION:
      return new CorruptionError(w.message, w.details, cause);
    case ErrorCodes.STORAGE_FULL:
      return new StorageFullError(w.message, cause);
    case ErrorCodes.IO_ERROR:
      return new IoError(w.message, cause, w.details);
    case ErrorCodes.CLOSED:
      return new ClosedError(w.message);
    case ErrorCodes.INVALID_ARGUMENT:
      return new InvalidArgumentError(w.message, { details: w.details, cause });
    default:
      return new KoruError(w.code as ErrorCode, w.message, { details: w.details, cause });
  }
}

/**
 * The worker's file: dist/node/merge-worker.js beside this module's dist/*.js or *.cjs.
 * The ESM build of the worker, from either build: there `import()` of a job's filter
 * module stays a real dynamic import (the CJS build turns it into `require`, which takes
 * neither `file:` URLs nor ES modules), and the worker is a module graph of its own anyway.
 */
function workerFile(): URL {
  // CJS has __filename and no import.meta (defined away in its build); ESM the reverse.
  const here = typeof __filename === 'string' ? pathToFileURL(__filename) : new URL(import.meta.url);
  for (const relative of ['./node/merge-worker.js', './merge-worker.js']) {
    const url = new URL(relative, here);
    if (existsSync(url)) return url;
  }
  throw new IoError(`the merge worker (node/merge-worker.js) is missing beside ${here.href}: is the package built?`);
}

interface Pending {
  readonly id: number;
  readonly job: MergeJob;
  readonly resolve: (r: MergeResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * A {@link MergeRunner} on one long-lived worker thread, which opens the directory at
 * `dirPath` itself and runs `runMerge` there (loading the job's filter module). Jobs run
 * one at a time, in order.
 *
 * The worker is unref'd while idle, so it never keeps a process alive, and ref'd while a
 * job runs, so a process awaiting a flush is not ended with the result pending. It is
 * retired after {@link IDLE_WORKER_MS} without a job: a worker thread holds tens of MB
 * (its own heap), which an idle database should not keep; the next job starts a new one
 * (a few tens of ms, next to a flush or merge of megabytes). Errors
 * come back as KoruErrors with their codes (CORRUPTION, STORAGE_FULL, IO_ERROR, ...; a
 * non-Koru error as INTERNAL). A worker that dies mid-job (a crash, `process.exit` in a
 * filter) fails that job with IO_ERROR, after removing the outputs it may have left under
 * the job's reserved numbers; the next job starts a fresh worker. On Linux the worker
 * lowers its own thread's CPU priority before each job (thread-priority.ts): a flush or
 * merge then takes the cores the event loops leave, rather than its share of them.
 */
/** How long a worker may sit without a job before it is retired. */
export const IDLE_WORKER_MS = 2_000;

export class WorkerMergeRunner implements MergeRunner {
  readonly #dirPath: string;
  readonly #queue: Pending[] = [];
  #running: Pending | undefined;
  #worker: Worker | undefined;
  /** The current worker's reply port: read by its 'message' event, or at once by {@link poll}. */
  #replies: MessagePort | undefined;
  /** Element 0 is 1 once the worker posted the running job's reply (reset before each job). */
  readonly #signal = new Int32Array(new SharedArrayBuffer(4));
  /** The uncaught error the current worker reported, for the message when it exits. */
  #workerError: unknown;
  #nextId = 1;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Retires the idle worker (see {@link IDLE_WORKER_MS}); unref'd. */
  #idleTimer: NodeJS.Timeout | undefined;

  /** @param dirPath the engine's directory (it must exist; the engine holds its lock) */
  constructor(dirPath: string) {
    this.#dirPath = dirPath;
  }

  run(job: MergeJob): Promise<MergeResult> {
    if (this.#closed) return Promise.reject(new ClosedError('the merge runner is closed'));
    return new Promise<MergeResult>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, job, resolve, reject });
      this.#pump();
    });
  }

  /** Terminates the worker: the running job and the queued ones reject with CLOSED (the running job's outputs removed). */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    for (const p of this.#queue.splice(0)) p.reject(new ClosedError('the merge runner is closed'));
    const worker = this.#worker;
    this.#worker = undefined;
    this.#dropReplies();
    const running = this.#running;
    this.#running = undefined;
    if (worker !== undefined) await worker.terminate();
    if (running !== undefined) {
      try {
        this.#removeOutputs(running.job);
      } finally {
        running.reject(new ClosedError('the merge runner was closed during the job'));
      }
    }
  }

  #pump(): void {
    if (this.#running !== undefined || this.#closed) return;
    const next = this.#queue.shift();
    if (next === undefined) {
      if (this.#worker !== undefined && this.#idleTimer === undefined) {
        this.#idleTimer = setTimeout(() => this.#retire(), IDLE_WORKER_MS);
        this.#idleTimer.unref();
      }
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    let worker: Worker;
    try {
      worker = this.#worker ?? this.#start();
      const request: WorkerRequest = { id: next.id, job: next.job };
      Atomics.store(this.#signal, 0, 0);
      worker.postMessage(request);
    } catch (e) {
      // A job that cannot be cloned (a filter's params), or no worker file.
      next.reject(isKoruError(e) ? e : new InvalidArgumentError(`the merge job cannot be posted to the worker: ${(e as Error).message}`, { cause: e }));
      this.#pump();
      return;
    }
    this.#running = next;
    worker.ref();
  }

  /**
   * Takes the running job's reply now when the worker has posted it (one atomic load
   * otherwise): the job's promise settles in a microtask. See {@link MergeRunner.poll}.
   */
  poll(): void {
    if (this.#running === undefined || Atomics.load(this.#signal, 0) === 0) return;
    const worker = this.#worker;
    const port = this.#replies;
    if (worker === undefined || port === undefined) return;
    const received = receiveMessageOnPort(port);
    if (received !== undefined) this.#onReply(worker, received.message as WorkerReply);
  }

  /** Closes the reply port of a worker that is gone or going (its late messages are not ours). */
  #dropReplies(): void {
    this.#replies?.close();
    this.#replies = undefined;
  }

  /** Terminates the worker if it is still idle (its exit is then not ours to report). */
  #retire(): void {
    this.#idleTimer = undefined;
    const worker = this.#worker;
    if (worker === undefined || this.#running !== undefined || this.#queue.length > 0 || this.#closed) return;
    this.#worker = undefined;
    this.#dropReplies();
    void worker.terminate();
  }

  #start(): Worker {
    // The process's Node options, less those a worker refuses (`node --input-type=module -e`).
    // Inherited unless one must go: Node refuses V8 and per-process flags (--expose-gc,
    // --max-old-space-size) in an explicit list, but accepts them inherited.
    const inherited = !process.execArgv.some((a) => a.startsWith('--input-type'));
    const execArgv = inherited ? {} : { execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')) };
    // Replies come on a port of their own: `receiveMessageOnPort` (poll) takes a port, not a worker.
    const { port1: replies, port2 } = new MessageChannel();
    const start: WorkerStart = { dirPath: this.#dirPath, replies: port2, signal: this.#signal.buffer as SharedArrayBuffer };
    const worker = new Worker(workerFile(), { workerData: start, transferList: [port2], ...execArgv });
    replies.on('message', (reply: WorkerReply) => this.#onReply(worker, reply));
    // The worker is ref'd while a job runs, which keeps the process alive for the reply.
    replies.unref();
    this.#dropReplies();
    this.#replies = replies;
    worker.on('error', (e) => {
      if (worker === this.#worker) this.#workerError = e;
    });
    worker.on('exit', (code) => this.#onExit(worker, code));
    // After the listeners: a 'message' listener refs the worker's port again.
    worker.unref();
    this.#worker = worker;
    this.#workerError = undefined;
    return worker;
  }

  #onReply(worker: Worker, reply: WorkerReply): void {
    const p = this.#running;
    if (worker !== this.#worker || p === undefined || p.id !== reply.id) return;
    this.#running = undefined;
    worker.unref();
    if ('error' in reply) p.reject(fromWire(reply.error));
    else p.resolve(reply.result);
    this.#pump();
  }

  #onExit(worker: Worker, code: number): void {
    // A worker replaced or terminated by close() is no longer ours to report.
    if (worker !== this.#worker) return;
    this.#worker = undefined;
    this.#dropReplies();
    const p = this.#running;
    this.#running = undefined;
    if (p !== undefined) {
      const error = this.#workerError;
      const why = error === undefined ? `exited with code ${code}` : `failed: ${error instanceof Error ? error.message : String(error)}`;
      let failure: Error = new IoError(`the merge worker ${why} during the job`, error, { exitCode: code });
      try {
        this.#removeOutputs(p.job);
      } catch (e) {
        failure = new IoError(`the merge worker ${why} during the job, and its outputs could not be removed: ${(e as Error).message}`, error, { exitCode: code });
      }
      p.reject(failure);
    }
    this.#pump();
  }

  /** Removes what a job that never finished may have written: its reserved output numbers. */
  #removeOutputs(job: MergeJob): void {
    const dir = new NodeDirectory(this.#dirPath);
    const first = segmentFileName(job.firstFileNumber);
    const last = segmentFileName(job.firstFileNumber + job.maxOutputs - 1);
    // Names sort by number (zero-padded, same suffix): one listing, not maxOutputs unlinks.
    for (const name of dir.list()) if (name.endsWith('.kseg') && name >= first && name <= last) dir.remove(name);
  }
}
