/**
 * Request bodies and WebSocket messages: received against a server-wide budget, with an
 * idle deadline, and parsed without monopolising the event loop.
 *
 * - Every body being received counts against `maxPendingBodyBytes` (all connections
 *   together): past it a request gets 503 `SERVER_BUSY` and its connection is closed, so
 *   many slow uploads cannot take the process's memory. Bodies are held as Buffers
 *   (outside the JavaScript heap) and released when the request is done.
 * - A body that stalls for `bodyTimeoutMs` gets 408 `REQUEST_TIMEOUT` and is cut off.
 * - A body or message of `offThreadParseBytes` or more is checked on a worker thread
 *   first (valid JSON, at most `maxBodyElements` values): a body the database would
 *   refuse (a flood of numbers, millions of small objects) costs the event loop nothing,
 *   and one it accepts costs at most what `maxBodyElements` values cost. A structured
 *   clone back from the worker would cost more than parsing again, so the event loop
 *   parses an accepted body itself.
 */
import type { IncomingMessage } from 'node:http';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, KoruError } from '@koru/delta';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Limits of {@link BodyParser} and {@link registerBodyReader}. */
export interface BodyLimits {
  /** Largest body or message. */
  readonly maxBodyBytes: number;
  /** Bytes of bodies being received, all connections together. */
  readonly maxPendingBodyBytes: number;
  /** A body that receives nothing for this long is cut off (408). */
  readonly bodyTimeoutMs: number;
  /** Bodies from this size on are checked on a worker thread before the event loop parses them. */
  readonly offThreadParseBytes: number;
  /** Most JSON values (objects, arrays, strings, numbers, booleans, nulls) in one body. */
  readonly maxBodyElements: number;
}

// The worker: parse, count values without recursion, answer ok or the error. CommonJS
// source evaluated in place, so it runs the same from the sources (tests) and the build.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, bytes, maxElements }) => {
  let value;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    return parentPort.postMessage({ id, error: 'syntax', message: String(e && e.message) });
  }
  let count = 0;
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (++count > maxElements) return parentPort.postMessage({ id, error: 'elements' });
    if (v !== null && typeof v === 'object') {
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) stack.push(v[i]);
      else for (const k in v) stack.push(v[k]);
    }
  }
  parentPort.postMessage({ id });
});
`;

type Answer = { id: number; error?: 'syntax' | 'elements'; message?: string };

/** Parses JSON bodies: small ones in place, large ones checked on one worker thread first. */
export class BodyParser {
  #worker: Worker | undefined;
  #next = 1;
  readonly #waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: unknown) => void }>();

  constructor(readonly limits: Pick<BodyLimits, 'offThreadParseBytes' | 'maxBodyElements'>) {}

  /**
   * The value of a JSON text (undefined for an empty one); a promise when it was large.
   * @throws INVALID_VALUE for bad JSON, LIMIT_EXCEEDED past `maxBodyElements`
   */
  parse(bytes: Buffer): unknown {
    if (bytes.length < this.limits.offThreadParseBytes) return parseText(bytes.toString('utf8'));
    return this.#check(bytes).then((a) => {
      if (a.error === 'elements') {
        throw new KoruError(ErrorCodes.LIMIT_EXCEEDED, `the body holds more than ${this.limits.maxBodyElements} JSON values`, { details: { limit: this.limits.maxBodyElements } });
      }
      if (a.error === 'syntax') throw new KoruError(ErrorCodes.INVALID_VALUE, `the body is not valid JSON: ${a.message ?? ''}`);
      return parseText(bytes.toString('utf8'));
    });
  }

  /** Stops the worker (a new one starts if a large body comes after). */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w !== undefined) await w.terminate();
  }

  #check(bytes: Buffer): Promise<Answer> {
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<Answer>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      if (this.#waiting.size === 1) worker.ref();
      worker.postMessage({ id, bytes, maxElements: this.limits.maxBodyElements });
    });
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // An idle worker must not keep the process alive.
    worker.unref();
    worker.on('message', (a: Answer) => {
      const w = this.#waiting.get(a.id);
      this.#waiting.delete(a.id);
      if (this.#waiting.size === 0) worker.unref();
      w?.resolve(a);
    });
    const fail = (e: unknown): void => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const w of this.#waiting.values()) w.reject(new KoruError(ErrorCodes.INTERNAL, 'the body parser stopped', { cause: e }));
      this.#waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    this.#worker = worker;
    return worker;
  }
}

function parseText(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KoruError(ErrorCodes.INVALID_VALUE, `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * What bodies (and WebSocket messages still arriving) hold right now, all connections
 * together, and how much they may.
 */
export interface BodyBudget {
  pendingBytes: number;
  readonly maxPendingBytes: number;
}

/**
 * Reads every request body as JSON (whatever the content type says: curl -d sends form
 * encoding) within the limits. A refused body's connection is closed once the refusal
 * is sent, since the rest of the body is never read.
 */
export function registerBodyReader(app: FastifyInstance, limits: BodyLimits, parser: BodyParser): BodyBudget {
  const budget: BodyBudget = { pendingBytes: 0, maxPendingBytes: limits.maxPendingBodyBytes };
  const cut = new WeakSet<IncomingMessage>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => {
    const chunks: Buffer[] = [];
    let received = 0;
    // What this body holds of the budget: its declared length from the start (so promises
    // of large bodies cannot add up past it), else what arrived.
    let counted = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: KoruError | null, body?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      budget.pendingBytes -= counted;
      chunks.length = 0;
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      if (err !== null) {
        cut.add(req.raw);
        payload.pause();
      }
      done(err as Error | null, body);
    };
    const declared = Number(req.headers['content-length']);
    if (declared > limits.maxBodyBytes) return finish(tooLarge(limits.maxBodyBytes));
    if (declared > 0) {
      if (budget.pendingBytes + declared > limits.maxPendingBodyBytes) return finish(busy(limits.maxPendingBodyBytes));
      counted = declared;
      budget.pendingBytes += declared;
    }
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new KoruError(ErrorCodes.REQUEST_TIMEOUT, `the body stalled: nothing received for ${limits.bodyTimeoutMs} ms`)), limits.bodyTimeoutMs);
    };
    function onData(chunk: Buffer): void {
      received += chunk.length;
      if (received > counted) {
        budget.pendingBytes += received - counted;
        counted = received;
      }
      if (received > limits.maxBodyBytes) return finish(tooLarge(limits.maxBodyBytes));
      if (budget.pendingBytes > limits.maxPendingBodyBytes) return finish(busy(limits.maxPendingBodyBytes));
      chunks.push(chunk);
      arm();
    }
    function onEnd(): void {
      if (settled) return;
      const bytes = Buffer.concat(chunks, received);
      // The body stays counted until it is parsed: a large one is still in memory.
      clearTimeout(timer);
      let parsed: unknown;
      try {
        parsed = parser.parse(bytes);
      } catch (e) {
        return finish(e as KoruError);
      }
      if (parsed instanceof Promise) parsed.then((v: unknown) => finish(null, v), (e: unknown) => finish(e as KoruError));
      else finish(null, parsed);
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    // A client that goes away mid-body gives its bytes back.
    const gone = (): void => finish(new KoruError(ErrorCodes.INVALID_ARGUMENT, 'the body was not received'));
    payload.on('error', gone);
    payload.on('close', () => {
      if (!payload.complete) gone();
    });
    arm();
  });
  // The rest of a refused body is never read: close the connection once the answer left.
  app.addHook('onResponse', (req, _reply, done) => {
    if (cut.has(req.raw)) req.raw.socket.destroy();
    done();
  });
  return budget;
}

function tooLarge(max: number): KoruError {
  return new KoruError(ErrorCodes.BODY_TOO_LARGE, `the body is larger than ${max} bytes`);
}

function busy(max: number): KoruError {
  return new KoruError(ErrorCodes.SERVER_BUSY, `the server is receiving ${max} bytes of bodies already; retry shortly`, { details: { limit: max } });
}
