/**
 * What keeps web pages out: every HTTP request and every WebSocket upgrade is checked
 * against the {@link originPolicy} before anything runs (403 `FORBIDDEN`); allowed
 * origins get CORS headers and preflight answers (@fastify/cors); a write must declare
 * its body JSON (415 `UNSUPPORTED_MEDIA_TYPE`), so a page cannot send one as a "simple"
 * cross-origin request that skips the preflight.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import cors from '@fastify/cors';
import { ErrorCodes } from '@koru/delta';
import type { FastifyInstance } from 'fastify';
import { originPolicy, type OriginPolicy } from './origin.js';

/** Methods whose body, when there is one, must be JSON. */
const WRITES = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);
/** `application/json`, with or without parameters (`; charset=utf-8`). */
const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** Response headers a page on an allowed origin may read. */
const EXPOSED = ['etag', 'x-koru-timestamp'];

/** Settings of {@link registerBrowserGuard}. */
export interface BrowserGuardOptions {
  /** The bound host. */
  readonly host: string;
  readonly allowOrigins?: readonly string[] | undefined;
  readonly allowHosts?: readonly string[] | undefined;
}

/** The guard of a server: its policy and the check its upgrade handler calls first. */
export interface BrowserGuard {
  readonly policy: OriginPolicy;
  /**
   * Refuses an upgrade from a disallowed origin or to an unknown host: answers 403 on the
   * socket and returns true; false when the upgrade may go on.
   */
  refuseUpgrade(req: IncomingMessage, socket: Duplex): boolean;
}

/**
 * Adds the checks to `app`: call before the authentication hook, so that a refused page
 * is told 403 (not 401) and a preflight, which never carries a token, is answered.
 */
export async function registerBrowserGuard(app: FastifyInstance, o: BrowserGuardOptions): Promise<BrowserGuard> {
  const policy = originPolicy(o);
  // Answered here rather than thrown: routes registered before the server's error
  // handler (the CORS plugin's OPTIONS route) would use Fastify's default one.
  app.addHook('onRequest', async (req, reply) => {
    const why = policy.refusal({ host: req.headers.host, origin: req.headers.origin });
    if (why !== undefined) return reply.status(403).send({ error: { code: ErrorCodes.FORBIDDEN, message: why } });
  });
  // Allowed origins only: every other origin was refused above, and same-origin pages
  // need no CORS headers.
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && policy.allowsOrigin(origin)),
    methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
    exposedHeaders: EXPOSED,
    maxAge: 600,
  });
  // Before the body is read; after authentication, so a stranger learns nothing from it.
  app.addHook('preParsing', (req, reply, payload, done) => {
    if (!WRITES.has(req.method) || !hasBody(req.headers)) return done(null, payload);
    const type = req.headers['content-type'];
    if (type !== undefined && JSON_TYPE.test(type)) return done(null, payload);
    const message = `a ${req.method} body must be sent as Content-Type: application/json, not ${type === undefined ? 'without a type' : JSON.stringify(type)}`;
    void reply.status(415).send({ error: { code: ErrorCodes.UNSUPPORTED_MEDIA_TYPE, message } });
  });
  return {
    policy,
    refuseUpgrade(req, socket) {
      const why = policy.refusal({ host: req.headers.host, origin: req.headers.origin });
      if (why === undefined) return false;
      const body = JSON.stringify({ error: { code: ErrorCodes.FORBIDDEN, message: why } });
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return true;
    },
  };
}

/** True when the request has a body: a non-zero length, or a chunked one. */
function hasBody(headers: IncomingMessage['headers']): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length.trim() !== '0';
  return headers['transfer-encoding'] !== undefined;
}
