/**
 * `GET /v1/export[?namespace=NS]`: every committed version as JSON lines (NDJSON), in
 * commit order — what `KoruDelta.exportVersions` gives in process (the store's
 * `committed()`, of one namespace or all): history and tombstones included, the index
 * and view definitions of a whole-database export, and on each key's oldest kept
 * version, when retention or a purge cut its history, the `previousCut` that lets an
 * import record the same horizon.
 *
 * Streamed with backpressure: versions are read from the store only as the client takes
 * them, a chunk of about {@link EXPORT_CHUNK_CHARS} characters at a time, so a database
 * of any size costs the server one chunk and the socket's buffers. The store is read in
 * slices of at most {@link EXPORT_SLICE_MS} with the event loop turning between them
 * (a namespace export skips every other namespace's versions: without slices, a rare
 * namespace in a large database would hold every other client for as long as that
 * takes). A client that stops reading holds a paused read, never the event loop; after
 * `idleMs` without taking a chunk its connection is closed (the time the server spends
 * reading, as when a namespace export skips a million versions, is not the client's
 * idling: every slice counts as progress), and a graceful stop closes
 * every export still running (a cut-off answer ends without its last chunk: the client
 * sees it was cut).
 */
import { Readable } from 'node:stream';
import type { KoruDelta, Version } from '@koru/delta';
import { validateNamespace } from '@koru/storage';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { embeddedStorage } from './embedded.js';

/** Characters of JSON lines gathered before a chunk is handed to the socket. */
export const EXPORT_CHUNK_CHARS = 64 * 1024;

/** Longest run of store reads before the event loop gets a turn, ms. */
export const EXPORT_SLICE_MS = 10;

/** The content type of the answer: one JSON object per line. */
export const NDJSON = 'application/x-ndjson; charset=utf-8';

/** Options of {@link registerExport}. */
export interface ExportRouteOptions {
  /** An export whose client takes nothing for this many ms is cut off. */
  readonly idleMs: number;
}

/**
 * Registers `GET /v1/export`. Returns `closeAll()`, which cuts off every export still
 * running (for a graceful stop: an export may take longer than anyone should wait for).
 */
export function registerExport(app: FastifyInstance, db: KoruDelta, options: ExportRouteOptions): { closeAll(): void } {
  const running = new Set<FastifyReply>();
  const schema = {
    summary: 'Every committed version, history included, as JSON lines in commit order (streamed): of one namespace, or of the whole database',
    querystring: { type: 'object', properties: { namespace: { type: 'string' } }, additionalProperties: false },
  };
  app.get<{ Querystring: { namespace?: string } }>('/v1/export', { schema }, async (req, reply) => {
    const namespace = req.query.namespace;
    // Checked as exportVersions checks it: a bad one is an ordinary error answer.
    if (namespace !== undefined) validateNamespace(namespace);
    // The headers alone: no reason to read the store.
    if (req.method === 'HEAD') return reply.type(NDJSON).header('cache-control', 'no-store').send();
    // Every change committed by now (the store's seq is read here), in commit order. A
    // shared store has no engine underneath: its own export reads it a page at a time.
    const storage = embeddedStorage(db);
    const versions = storage !== undefined ? storage.committed() : db.exportVersions(namespace !== undefined ? { namespace } : {});
    let lastProgress = Date.now();
    const body = Readable.from(chunks(versions, namespace, () => (lastProgress = Date.now())), { objectMode: false });
    running.add(reply);
    // Progress is the server reading a slice: it reads while it has nothing to send, or
    // when the stream asks for the next chunk, which a client that reads keeps doing.
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > options.idleMs) reply.raw.destroy();
    }, Math.max(10, Math.floor(options.idleMs / 4)));
    watchdog.unref();
    body.once('close', () => {
      clearInterval(watchdog);
      running.delete(reply);
    });
    return reply.type(NDJSON).header('cache-control', 'no-store').send(body);
  });
  return {
    closeAll() {
      for (const reply of running) reply.raw.destroy();
      running.clear();
    },
  };
}

/**
 * The export's text in chunks: the versions of `namespace` (all when undefined), one JSON
 * line each. Pulled by the response stream only when it wants more; each chunk starts
 * after a turn of the event loop, and a slice of reads that passes {@link EXPORT_SLICE_MS}
 * gives it another. `progress` is told at the start of every slice: after the stream
 * took a chunk, or after a slice that found nothing to send. Returning early (the client
 * went) ends `versions`.
 */
async function* chunks(versions: Generator<Version> | AsyncGenerator<Version>, namespace: string | undefined, progress: () => void): AsyncGenerator<string> {
  try {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      progress();
      const lines: string[] = [];
      let size = 0;
      let done = false;
      const deadline = performance.now() + EXPORT_SLICE_MS;
      for (let n = 1; ; n++) {
        // Awaited only when it is a promise (a store's export): the embedded scan stays synchronous.
        const pending = versions.next();
        const next = pending instanceof Promise ? await pending : pending;
        if (next.done === true) {
          done = true;
          break;
        }
        const v = next.value;
        if (namespace === undefined || v.namespace === namespace) {
          const line = `${JSON.stringify(v)}\n`;
          lines.push(line);
          size += line.length;
          if (size >= EXPORT_CHUNK_CHARS) break;
        }
        // The clock is read every 64 versions: a read of it costs about as much as a version.
        if ((n & 63) === 0 && performance.now() > deadline) break;
      }
      if (lines.length > 0) yield lines.join('');
      if (done) return;
    }
  } finally {
    await versions.return(undefined);
  }
}
