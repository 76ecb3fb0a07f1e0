/**
 * createServer: KoruDelta over HTTP and WebSocket on one port. Loopback by default; a
 * non-loopback bind needs a token (or `insecure`). Limits on bodies, headers, request
 * time, connections and per-socket queues; graceful close (stop accepting, finish
 * in-flight calls, close the database).
 */
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { ClusterNode, WsTransport, type ClusterOptions } from '@koru/cluster';
import { ErrorCodes, InvalidArgumentError, KoruDelta, KoruError } from '@koru/delta';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { bearer, isLoopback, tokenChecker } from './auth.js';
import { toWireError } from './errors.js';
import { Metrics } from './metrics.js';
import { registerRest } from './rest.js';
import { closeAll, createWsHandler } from './ws.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** Options of {@link startServer}; all optional. */
export interface ServerOptions {
  /** A database to serve (left open on close); default: open `path`. */
  readonly db?: KoruDelta;
  /** Data directory when `db` is not given (default: the embedded default path of the caller). */
  readonly path?: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 7878; 0 picks a free port. */
  readonly port?: number;
  /** Required for a non-loopback host unless `insecure`. */
  readonly token?: string;
  readonly insecure?: boolean;
  /** Largest request body or WebSocket message (default 16 MiB). */
  readonly maxBodyBytes?: number;
  /** Most simultaneous connections (default 1,024); more get 503 TOO_MANY_CONNECTIONS. */
  readonly maxConnections?: number;
  /** Whole-request deadline, ms (default 30,000). */
  readonly requestTimeoutMs?: number;
  /** Deadline for a request's headers, ms (default 10,000): slow-header clients are cut off. */
  readonly headersTimeoutMs?: number;
  /** Unsent bytes a WebSocket may hold before the client is dropped (default 8 MiB). */
  readonly maxQueuedBytes?: number;
  /** `json` lines (default), `pretty` for people, or `silent`. */
  readonly log?: 'json' | 'pretty' | 'silent';
  /**
   * Run as a cluster member (peers connect to `/v1/cluster` on this port). Omit for a
   * single node. `join`: members to contact (`host:port`); `key`: the shared cluster key.
   */
  readonly cluster?: ServerClusterOptions;
}

/** Cluster settings of a server (see {@link ServerOptions.cluster}). */
export interface ServerClusterOptions extends Partial<Omit<ClusterOptions, 'db' | 'transport' | 'address' | 'clusterKey' | 'log'>> {
  /** Members to contact first, `host:port` each. */
  readonly join?: readonly string[];
  /** Shared secret every member must hold (default: none; then any node that connects is a peer). */
  readonly key?: string;
  /** `host:port` other members dial to reach this node (default: the bound host and port). */
  readonly advertise?: string;
}

/** A running server. */
export interface KoruServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly db: KoruDelta;
  /** The cluster membership, when running as a member. */
  readonly cluster: ClusterNode | undefined;
  /** Stops accepting, lets in-flight calls finish, closes sockets, then the database if it opened it. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

/**
 * The file a server writes in the data directory it serves: `{ url, pid, startedAt, token }`
 * (`token`: whether one is required; never the token itself). Removed on close.
 */
export const SERVER_FILE = 'SERVER.json';

/** Starts a server. @throws INVALID_ARGUMENT for an unsafe bind, DATABASE_LOCKED, IO_ERROR */
export async function startServer(options: ServerOptions = {}): Promise<KoruServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 7878;
  const token = options.token === '' ? undefined : options.token;
  if (!isLoopback(host) && token === undefined && options.insecure !== true) {
    throw new InvalidArgumentError(`refusing to serve ${host} without a token: anyone who can reach it could read and write; give --token (or KORU_TOKEN), or --insecure`);
  }
  const maxBodyBytes = options.maxBodyBytes ?? 16 * MiB;
  const maxConnections = options.maxConnections ?? 1024;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const ownsDb = options.db === undefined;
  const db = options.db ?? (await KoruDelta.start(options.path !== undefined ? { path: options.path } : {}));
  const started = Date.now();
  const metrics = new Metrics(db);
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const app: FastifyInstance = Fastify({
    logger: loggerOf(options.log ?? 'json'),
    bodyLimit: maxBodyBytes,
    routerOptions: { maxParamLength: 16_384 },
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    // Slow-header clients (slowloris) are cut off; Node checks deadlines every interval.
    http: { headersTimeout: headersTimeoutMs, requestTimeout: options.requestTimeoutMs ?? 30_000, connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs) },
    forceCloseConnections: 'idle',
    // One log line per request would cost more than the request at 25k/s.
    logController: new LogController({ disableRequestLogging: true }),
    // Refuse what does not fit a schema; never coerce or silently drop it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });

  // Bodies are JSON whatever the content type says (curl -d sends form encoding). Own
  // `__proto__` keys are ordinary data here, never a prototype.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(new KoruError(ErrorCodes.INVALID_VALUE, `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`) as unknown as FastifyError, undefined);
    }
  });

  const check = tokenChecker(token);
  app.addHook('onRequest', async (req) => {
    if (req.url === '/healthz') return;
    if (!check(bearer(req.headers.authorization))) throw new KoruError(ErrorCodes.UNAUTHORIZED, 'missing or wrong token: send Authorization: Bearer <token>');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: reply.statusCode });
    metrics.latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((error, req, reply) => {
    const fst = (error as FastifyError).code;
    let wire = toWireError(error);
    if (fst === 'FST_ERR_CTP_BODY_TOO_LARGE') wire = { status: 413, error: { code: ErrorCodes.BODY_TOO_LARGE, message: `the body is larger than ${maxBodyBytes} bytes` } };
    else if (fst !== undefined && fst.startsWith("FST_")) wire = { status: (error as FastifyError).statusCode ?? 400, error: { code: ErrorCodes.INVALID_ARGUMENT, message: (error as FastifyError).message } };
    if (wire.status >= 500) req.log.error({ err: error }, 'request failed');
    void reply.status(wire.status).send({ error: wire.error });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: ErrorCodes.NOT_FOUND, message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
  // In-flight HTTP requests need no tracking: app.close() waits for them to be answered.

  // The cluster starts once the port is known; routes read it through this holder.
  const clusterRef: { node: ClusterNode | undefined } = { node: undefined };
  const clusterTransport = options.cluster !== undefined ? new WsTransport({ maxFrameBytes: Math.max(64 * MiB, 2 * maxBodyBytes) }) : undefined;
  registerRest(app, db, metrics, version, started, clusterRef);

  const ws = createWsHandler({
    db,
    check,
    tokenRequired: token !== undefined,
    maxPayload: maxBodyBytes,
    maxQueuedBytes: options.maxQueuedBytes ?? 8 * MiB,
    metrics,
    log: app.log,
    serverName: `koru-delta/${version}`,
    track,
  });
  app.server.on('upgrade', (req, socket, head) => {
    if (clusterTransport?.upgrade(req, socket, head) === true) return;
    ws.upgrade(req, socket, head);
  });

  // Past the connection limit, say so in one response rather than dropping silently.
  let connections = 0;
  app.server.on('connection', (socket: Socket) => {
    if (connections >= maxConnections) {
      const body = JSON.stringify({ error: { code: ErrorCodes.TOO_MANY_CONNECTIONS, message: `the server allows ${maxConnections} connections` } });
      socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    connections++;
    socket.once('close', () => connections--);
  });

  try {
    await app.listen({ host, port });
  } catch (e) {
    if (ownsDb) await db.close();
    throw e;
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  // Local commands that find the directory locked read this to reach the server instead.
  const marker = options.db === undefined && options.path !== undefined ? join(options.path, SERVER_FILE) : undefined;
  if (marker !== undefined) await writeFile(marker, `${JSON.stringify({ url, pid: process.pid, startedAt: new Date(started).toISOString(), token: token !== undefined })}\n`);
  if (options.cluster !== undefined && clusterTransport !== undefined) {
    const { join, key, advertise, ...tuning } = options.cluster;
    clusterRef.node = ClusterNode.start({
      ...tuning,
      db,
      transport: clusterTransport,
      address: advertise ?? `${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
      ...(join !== undefined ? { join } : {}),
      ...(key !== undefined ? { clusterKey: key } : {}),
      log: (level, message, fields) => app.log[level]({ ...fields }, message),
    });
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    port: actualPort,
    db,
    get cluster() {
      return clusterRef.node;
    },
    close() {
      closing ??= (async () => {
        // Tell the other members first, while the links are still up.
        await clusterRef.node?.stop();
        const closed = app.close(); // stops accepting; waits for in-flight HTTP requests
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        closeAll(ws.wss);
        await closed;
        if (marker !== undefined) await rm(marker, { force: true });
        if (ownsDb) await db.close();
      })();
      return closing;
    },
  };
}

function loggerOf(mode: 'json' | 'pretty' | 'silent'): boolean | object {
  if (mode === 'silent') return false;
  // The token is never logged: requests are not logged with their headers.
  if (mode === 'pretty') return { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } };
  return { level: 'info' };
}
