/**
 * `GET /v1/export[?namespace=NS]`: every committed version as JSON lines (NDJSON), in
 * commit order — what `KoruDelta.exportVersions` gives in process: history and
 * tombstones included, the index and view definitions of a whole-database export, and on
 * each key's oldest kept version, when retention or a purge cut its history, the
 * `previousCut` that lets an import record the same horizon.
 *
 * Streamed with backpressure: versions are read from the store only as the client takes
 * them, a chunk of about {@link EXPORT_CHUNK_CHARS} characters at a time, so a database
 * of any size costs the server one chunk and the socket's buffers. A client that stops
 * reading holds a paused read, never the event loop; after `idleMs` without taking a
 * chunk its connection is closed, and a graceful stop closes every export still running
 * (a cut-off answer ends without its last chunk: the client sees it was cut).
 */
import { Readable } from 'node:stream';
import type { KoruDelta, Version } from '@koru/delta';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Characters of JSON lines gathered before a chunk is handed to the socket. */
export const EXPORT_CHUNK_CHARS = 64 * 1024;

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
    const versions = db.exportVersions(namespace !== undefined ? { namespace } : {});
    // The first step checks the namespace: a bad one is an ordinary error answer, before
    // any line is sent.
    const first = await versions.next();
    if (req.method === 'HEAD') {
      // The headers alone: no reason to read the store.
      await versions.return(undefined);
      return reply.type(NDJSON).header('cache-control', 'no-store').send();
    }
    let lastPull = Date.now();
    const body = Readable.from(chunks(first, versions, () => (lastPull = Date.now())), { objectMode: false });
    running.add(reply);
    // Progress is the stream asking for the next chunk: a client that reads keeps it asking.
    const watchdog = setInterval(() => {
      if (Date.now() - lastPull > options.idleMs) reply.raw.destroy();
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
 * The export's text in chunks: `first`, then the rest of `versions`, one JSON line each.
 * Pulled by the response stream only when it wants more; `pulled` is told each time.
 * Returning early (the client went) ends `versions` too.
 */
async function* chunks(first: IteratorResult<Version>, versions: AsyncGenerator<Version>, pulled: () => void): AsyncGenerator<string> {
  try {
    let next = first;
    let lines: string[] = [];
    let size = 0;
    while (next.done !== true) {
      const line = `${JSON.stringify(next.value)}\n`;
      lines.push(line);
      size += line.length;
      if (size >= EXPORT_CHUNK_CHARS) {
        yield lines.join('');
        pulled();
        lines = [];
        size = 0;
      }
      next = await versions.next();
    }
    if (lines.length > 0) yield lines.join('');
  } finally {
    await versions.return(undefined);
  }
}
