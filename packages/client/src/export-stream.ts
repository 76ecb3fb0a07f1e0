/**
 * The client's side of `GET /v1/export` (apps/server/PROTOCOL.md): the server streams
 * every committed version as JSON lines, in commit order; they are read as the caller
 * takes them (`fetch`'s body stream, a chunk at a time), so an export of any size costs
 * one chunk and one line here. The WebSocket is not used: a long export must not hold up
 * calls and events behind it, and HTTP gives it backpressure for free.
 *
 * A cut-off answer is detected (the transfer ends abnormally, or its last line is not
 * whole) and reported as IO_ERROR: a caller never takes a partial export for a whole one.
 */
import { InvalidArgumentError, UnsupportedError, type KoruError } from '@koru/engine';
import type { Version } from '@koru/storage';
import { errorFromWire, ioError, preview, protocolError } from './errors.js';
import { shaped } from './wire.js';

/** Where and how to ask: the server's base URL, its token, how long to wait for the answer's start. */
export interface ExportTarget {
  readonly base: string;
  readonly token: string | undefined;
  readonly timeoutMs: number;
}

/** The options of `exportVersions`: one namespace, or the whole database. */
export interface ExportOptions {
  readonly namespace?: string;
}

/** The URL of the export of `options.namespace` (all when absent). @throws INVALID_ARGUMENT for options not of that shape */
export function exportUrl(base: string, options: unknown): string {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError('exportVersions options must be an object');
  for (const name of Object.keys(options)) if (name !== 'namespace') throw new InvalidArgumentError(`unknown exportVersions option ${JSON.stringify(name)}`);
  const namespace = (options as ExportOptions).namespace;
  if (namespace === undefined) return `${base}/v1/export`;
  if (typeof namespace !== 'string') throw new InvalidArgumentError(`namespace must be a string, not ${typeof namespace}`);
  return `${base}/v1/export?namespace=${encodeURIComponent(namespace)}`;
}

/**
 * The versions of the export at `url`, parsed and deep-frozen as the embedded handle's.
 * `abort` ends the request (the caller's `close()`); `closed` is the error then thrown.
 * Leaving the loop early ends the request too.
 * @throws the server's error (INVALID_NAMESPACE, UNAUTHORIZED...), IO_ERROR (cannot
 *   connect, no answer within `timeoutMs`, or the answer was cut off), PROTOCOL_ERROR
 *   (not an export), UNSUPPORTED (no `fetch`)
 */
export async function* exportStream(target: ExportTarget, url: string, abort: AbortController, closed: () => KoruError): AsyncGenerator<Version> {
  const fetchFn = globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new UnsupportedError('exportVersions needs fetch (Node 20 and browsers have it)');
  const headers: Record<string, string> = { accept: 'application/x-ndjson' };
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, target.timeoutMs);
  /** The error for a failure of the transfer: the client closed, the deadline, or the network. */
  const failure = (e: unknown, what: string): KoruError => {
    if (abort.signal.aborted && !timedOut) return closed();
    if (timedOut) return ioError(`${url}: no answer within ${target.timeoutMs} ms`, { url });
    return ioError(`${what}: ${e instanceof Error ? (e.cause instanceof Error ? `${e.message} (${e.cause.message})` : e.message) : String(e)}`, { url });
  };
  let res: Response;
  try {
    res = await fetchFn(url, { headers, signal: abort.signal });
  } catch (e) {
    throw failure(e, `cannot export from ${url}`);
  } finally {
    clearTimeout(timer);
  }
  let count = 0;
  let done = false;
  try {
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let wire: unknown;
      try {
        wire = (JSON.parse(text) as { error?: unknown }).error;
      } catch {
        throw protocolError(`${url} answered ${res.status}: ${preview(text)}`);
      }
      throw errorFromWire(wire);
    }
    const type = res.headers.get('content-type') ?? '';
    if (!type.startsWith('application/x-ndjson') || res.body === null) throw protocolError(`${url} did not answer with JSON lines (content-type ${JSON.stringify(type)})`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder('utf-8', { fatal: true });
    // The start of a line not yet whole, in pieces (a large value spans many chunks:
    // joined once, when its end arrives).
    let partial: string[] = [];
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw failure(e, `the export from ${url} was cut off after ${count} versions`);
      }
      if (chunk.done) break;
      const text = decoder.decode(chunk.value, { stream: true });
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        let line = text.slice(from, nl);
        if (partial.length > 0) {
          partial.push(line);
          line = partial.join('');
          partial = [];
        }
        from = nl + 1;
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch {
          throw protocolError(`line ${count + 1} of the export from ${url} is not JSON: ${preview(line)}`);
        }
        count++;
        yield shaped(v, 'frozen') as Version;
      }
      if (from < text.length) partial.push(text.slice(from));
    }
    const rest = decoder.decode();
    if (partial.length > 0 || rest !== '') throw ioError(`the export from ${url} was cut off after ${count} versions (its last line is not whole)`, { url });
    done = true;
  } finally {
    // Left early (or failed): end the transfer rather than let it run on unread.
    if (!done) abort.abort();
  }
}
