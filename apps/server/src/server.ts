/**
 * createServer: KoruDelta over HTTP and WebSocket on one port. Loopback by default; a
 * non-loopback bind needs a token (or `insecure`). Limits on bodies, headers, request
 * time, connections and per-socket queues; graceful close (stop accepting, finish
 * in-flight calls, close the database).
 */
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { ClusterNode, WsTransport, clusterKeyFromToken, type ClusterOptions } from '@koru/cluster';
import { ErrorCodes, InvalidArgumentError, KoruDelta, KoruError } from '@koru/delta';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { bearer, isLoopback, tokenChecker } from './auth.js';
import { registerBrowserGuard } from './browser-guard.js';
import { consoleDirOf, registerConsole, type ConsoleOptions } from './console.js';
import { toWireError } from './errors.js';
import { Metrics } from './metrics.js';
import { trackMethods } from './methods.js';
import { parseAllowHosts, parseAllowOrigins } from './origin.js';
import { registerOpenApi } from './openapi.js';
import { registerRest } from './rest.js';
import type { ServerContext } from './server-calls.js';
import { registerExport } from './export.js';
import { closeAll, createWsHandler } from './ws.js';
import { BodyParser, registerBodyReader } from './body.js';
import { ConnectionSlots } from './connections.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** Options of {@link startServer}; all optional. */
export interface ServerOptions {
  /** A database to serve (left open on close); default: open `path`. */
  readonly db?: KoruDelta;
  /** Data directory when `db` is not given (default: the embedded default path of the caller). */
  readonly path?: string;
  /**
   * A shared store to serve instead of a directory: `postgres://user:password@host/db`.
   * Any number of servers may serve one store; each is stateless (no data directory, no
   * `SERVER.json`, no lock) and none runs the embedded cluster: a non-empty
   * `cluster.join` is refused, and there is no cluster door. Not with `path` or `db`.
   */
  readonly store?: string;
  /** With `store`: most connections this server opens to it (default 10), plus one that listens for changes. */
  readonly storeConnections?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 7878; 0 picks a free port. */
  readonly port?: number;
  /** Required for a non-loopback host unless `insecure`. */
  readonly token?: string;
  readonly insecure?: boolean;
  /**
   * Web origins (`scheme://host[:port]`, or `*` for any) whose pages may call the server,
   * with CORS; a request from any other origin but the server's own gets 403 FORBIDDEN.
   */
  readonly allowOrigins?: readonly string[];
  /**
   * Host names (`name` or `name:port`) requests may be addressed to, besides the loopback
   * names a loopback-bound server answers to; others get 403 (DNS rebinding). Given for a
   * non-loopback bind, it restricts that bind to these names too.
   */
  readonly allowHosts?: readonly string[];
  /** Largest request body or WebSocket message (default 16 MiB). */
  readonly maxBodyBytes?: number;
  /**
   * Most simultaneous connections (default 1,024). When they are all taken, a newcomer
   * replaces the oldest connection that has not authenticated yet; when every one has,
   * it gets 503 TOO_MANY_CONNECTIONS.
   */
  readonly maxConnections?: number;
  /** Most simultaneous connections from one remote address (default 256); same rule. */
  readonly maxConnectionsPerAddress?: number;
  /**
   * Most simultaneous connections that have not yet authenticated: sent a request that
   * passed the token check, or a welcomed WebSocket hello (default 256). Past it the
   * oldest of them is closed, so a flood of them cannot lock out clients that do.
   */
  readonly maxPendingConnections?: number;
  /** A WebSocket that sends no welcomed hello within this many ms is closed with 4008 (default 10,000). */
  readonly helloTimeoutMs?: number;
  /** A request body that receives nothing for this many ms gets 408 REQUEST_TIMEOUT and is cut off (default 10,000). */
  readonly bodyTimeoutMs?: number;
  /**
   * Bytes of request bodies and WebSocket messages being received, all connections
   * together (default 256 MiB); past it 503 SERVER_BUSY (a WebSocket: closed with 1013).
   */
  readonly maxPendingBodyBytes?: number;
  /** Bodies and messages from this size on are checked on a worker thread before being parsed (default 1 MiB). */
  readonly offThreadParseBytes?: number;
  /** Most JSON values in one body or message (default 1,000,000); more is 400 LIMIT_EXCEEDED. */
  readonly maxBodyElements?: number;
  /** Most live subscriptions on one WebSocket (default 1,000); more is LIMIT_EXCEEDED. */
  readonly maxSubscriptionsPerSocket?: number;
  /** Whole-request deadline, ms (default 30,000). */
  readonly requestTimeoutMs?: number;
  /** Deadline for a request's headers, ms (default 10,000): slow-header clients are cut off. */
  readonly headersTimeoutMs?: number;
  /**
   * Unsent bytes a WebSocket may hold before the client is dropped (default twice
   * `maxBodyBytes` plus 1 MiB). An answer is sent whenever the queue is within it,
   * whatever the answer's own size.
   */
  readonly maxQueuedBytes?: number;
  /**
   * A streamed answer (`GET /v1/export`) whose client takes nothing for this many ms is
   * cut off (default 60,000): a client that stops reading does not hold its connection
   * and its read of the store for ever.
   */
  readonly streamIdleTimeoutMs?: number;
  /** `json` lines (default), `pretty` for people, or `silent`. */
  readonly log?: 'json' | 'pretty' | 'silent';
  /** Least severe log records written (default `info`). */
  readonly logLevel?: LogLevel;
  /**
   * Cluster membership: every server is a member others can join at `/v1/cluster` on its
   * port (zero configuration), with no periodic work until one does. `join`: members to
   * contact; `key`: the shared cluster key (default: derived from `token`, if any).
   * `false`: no cluster door at all. A server on a `store` has none either, whatever this says.
   */
  readonly cluster?: ServerClusterOptions | false;
  /**
   * The web console at `/` (served without the token; its files are not secret): default
   * `@koru/console`'s built directory, where a console not built yet makes `/` answer 404
   * saying so; `{ dir }` a directory of your own; `false`: none (`/` is 404).
   */
  readonly console?: ConsoleOptions | false;
}

/** Log levels, most severe first (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Cluster settings of a server (see {@link ServerOptions.cluster}). */
export interface ServerClusterOptions extends Partial<Omit<ClusterOptions, 'db' | 'transport' | 'address' | 'clusterKey' | 'log'>> {
  /** Members to contact first, `host:port` each. */
  readonly join?: readonly string[];
  /**
   * Shared secret every member must hold. Default: derived from the server's token (so
   * members sharing a token form a cluster and nothing else gets in); with neither, any
   * node that reaches the port is a peer (allowed on loopback, or with `insecure`).
   */
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
  /** The cluster membership (undefined with `cluster: false`, and on a store). */
  readonly cluster: ClusterNode | undefined;
  /**
   * The web console (undefined with `console: false`): its URL, its directory, and
   * whether `index.html` was there at the start.
   */
  readonly console: { readonly url: string; readonly dir: string; readonly built: boolean } | undefined;
  /** `starting` until it accepts requests and peers, `ready`, then `stopping` from `close()` on (`GET /readyz`). */
  readonly state: ServerState;
  /** Stops accepting, lets in-flight calls finish, closes sockets, then the database if it opened it. */
  close(): Promise<void>;
}

/** Where a server is in its life, as `GET /readyz` reports it. */
export type ServerState = 'starting' | 'ready' | 'stopping';

const MiB = 1024 * 1024;

/**
 * The file a server writes in the data directory it serves: `{ url, pid, startedAt, token }`
 * (`token`: whether one is required; never the token itself). Removed on close.
 */
export const SERVER_FILE = 'SERVER.json';

/**
 * Starts a server.
 * @throws INVALID_ARGUMENT for an unsafe bind or a store given with a path, a database or
 *   members to join; DATABASE_LOCKED, IO_ERROR; UNAVAILABLE when the store cannot be reached
 */
export async function startServer(options: ServerOptions = {}): Promise<KoruServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 7878;
  const token = options.token === '' ? undefined : options.token;
  const store = options.store;
  if (store !== undefined) {
    if (options.path !== undefined || options.db !== undefined) throw new InvalidArgumentError('store names where the data lives: give it without path or db');
    if (options.cluster !== false && (options.cluster?.join?.length ?? 0) > 0) {
      throw new InvalidArgumentError('a server on a store joins no cluster: its servers share one database, which PostgreSQL replicates; start each one on the same store instead');
    }
  } else if (options.storeConnections !== undefined) {
    throw new InvalidArgumentError('storeConnections is an option of a store: give store too');
  }
  // Servers on one store share its data already: the embedded cluster has nothing to do there.
  const clusterOptions = options.cluster === false || store !== undefined ? undefined : (options.cluster ?? {});
  // The cluster door follows the HTTP one: a secret of its own, else one derived from the
  // token (never the token itself on the wire), else open, which only loopback allows.
  const clusterKey = clusterOptions?.key !== undefined && clusterOptions.key !== '' ? clusterOptions.key : token !== undefined ? clusterKeyFromToken(token) : undefined;
  if (!isLoopback(host) && options.insecure !== true) {
    if (token === undefined) {
      throw new InvalidArgumentError(`refusing to serve ${host} without a token: anyone who can reach it could read and write${clusterOptions !== undefined ? ' (and join its cluster)' : ''}; give --token (or KORU_TOKEN), or --insecure`);
    }
    if (clusterOptions !== undefined && clusterKey === undefined) {
      throw new InvalidArgumentError(`refusing to serve ${host} with an open cluster door: give --cluster-key or --token, or --insecure`);
    }
  }
  // Checked before the database opens: a bad entry refuses to start with nothing taken.
  const allowOrigins = options.allowOrigins !== undefined ? parseAllowOrigins(options.allowOrigins, 'allowOrigins') : undefined;
  const allowHosts = options.allowHosts !== undefined ? parseAllowHosts(options.allowHosts, 'allowHosts') : undefined;
  const consoleDir = consoleDirOf(options.console);
  const maxBodyBytes = options.maxBodyBytes ?? 16 * MiB;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  // Connection slots, reserved for connections that authenticate (connections.ts).
  const slots = new ConnectionSlots({
    maxConnections: options.maxConnections ?? 1024,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 256,
    maxPendingConnections: options.maxPendingConnections ?? 256,
    pendingTimeoutMs: headersTimeoutMs,
  });
  const ownsDb = options.db === undefined;
  const db =
    options.db ??
    (await KoruDelta.start(
      store !== undefined
        ? { store, ...(options.storeConnections !== undefined ? { maxConnections: options.storeConnections } : {}) }
        : options.path !== undefined
          ? { path: options.path }
          : {},
    ));
  const started = Date.now();
  let state: ServerState = 'starting';
  const metrics = new Metrics(db);
  metrics.watchConnections(slots);
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const app: FastifyInstance = Fastify({
    logger: loggerOf(options.log ?? 'json', options.logLevel ?? 'info'),
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

  // Bodies are JSON (browser-guard.ts refuses writes declared otherwise, 415), read
  // within a server-wide budget and parsed off the event loop when large (body.ts). Own
  // `__proto__` keys are ordinary data here, never a prototype.
  const parser = new BodyParser({ offThreadParseBytes: options.offThreadParseBytes ?? MiB, maxBodyElements: options.maxBodyElements ?? 1_000_000 });
  const bodies = registerBodyReader(app, { ...parser.limits, maxBodyBytes, maxPendingBodyBytes: options.maxPendingBodyBytes ?? 256 * MiB, bodyTimeoutMs: options.bodyTimeoutMs ?? 10_000 }, parser);

  // Origin and Host first (403 before anything runs), then CORS (preflights carry no token).
  const guard = await registerBrowserGuard(app, { host, allowOrigins, allowHosts });
  const check = tokenChecker(token);
  // The console's routes (console.ts): its files are public, the API behind them is not.
  const consolePaths = new Set<string>();
  // Callback hooks, not async ones: they run on every request, and a promise each costs
  // a measurable share of a keep-alive GET.
  app.addHook('onRequest', (req, _reply, done) => {
    const allowed = check(bearer(req.headers.authorization));
    // A request past the token check proves its connection (probes prove nothing when a token is required).
    if (allowed) slots.prove(req.raw.socket);
    // Health and readiness probes come from orchestrators that hold no token; the
    // console's files (a matched console route) from a browser that signs in only once
    // the page is loaded.
    if (allowed || req.url === '/healthz' || req.url === '/readyz') return done();
    const route = req.routeOptions.url;
    if (route !== undefined && consolePaths.has(route)) return done();
    done(new KoruError(ErrorCodes.UNAUTHORIZED, 'missing or wrong token: send Authorization: Bearer <token>') as unknown as FastifyError);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: reply.statusCode });
    metrics.latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    done();
  });
  app.setErrorHandler((error, req, reply) => {
    const fst = (error as FastifyError).code;
    let wire = toWireError(error);
    if (fst === 'FST_ERR_CTP_BODY_TOO_LARGE') wire = { status: 413, error: { code: ErrorCodes.BODY_TOO_LARGE, message: `the body is larger than ${maxBodyBytes} bytes` } };
    else if (fst !== undefined && fst.startsWith("FST_")) wire = { status: (error as FastifyError).statusCode ?? 400, error: { code: ErrorCodes.INVALID_ARGUMENT, message: (error as FastifyError).message } };
    if (wire.status >= 500) req.log.error({ err: error }, 'request failed');
    void reply.status(wire.status).send({ error: wire.error });
  });
  const methodsAt = trackMethods(app);
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allowed = methodsAt(path);
    if (allowed.length > 0) {
      return void reply.status(405).header('allow', allowed.join(', ')).send({ error: { code: ErrorCodes.METHOD_NOT_ALLOWED, message: `${path} answers ${allowed.join(', ')}, not ${req.method}` } });
    }
    void reply.status(404).send({ error: { code: ErrorCodes.NOT_FOUND, message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
  // In-flight HTTP requests need no tracking: app.close() waits for them to be answered.

  // The cluster starts once the port is known; routes read it through this holder.
  const clusterRef: { node: ClusterNode | undefined } = { node: undefined };
  const clusterTransport = clusterOptions !== undefined ? new WsTransport({ maxFrameBytes: Math.max(64 * MiB, 2 * maxBodyBytes) }) : undefined;
  // Collects the routes as they are registered, for the OpenAPI document.
  const openApi = registerOpenApi(app, { version, tokenRequired: token !== undefined });
  const context: ServerContext = { db, metrics, version, started, clusterRef };
  registerRest(app, context);
  const exports = registerExport(app, db, { idleMs: options.streamIdleTimeoutMs ?? 60_000 });
  // A graceful stop waits for in-flight answers; an export may run for minutes: cut off.
  app.addHook('preClose', (done) => {
    exports.closeAll();
    done();
  });
  app.get('/readyz', { schema: { summary: 'Readiness: 200 once serving, 503 while starting or stopping' } }, async (_req, reply) => {
    if (state === 'ready') return { ready: true };
    return reply.status(503).send({ ready: false, state, error: { code: ErrorCodes.CLOSED, message: `the server is ${state}` } });
  });
  openApi.serve();
  // Last: a top-level file of the console never takes an existing route's place.
  const consoleRoutes = consoleDir !== undefined ? await registerConsole(app, consoleDir.dir, consolePaths) : undefined;

  const ws = createWsHandler({
    db,
    check,
    tokenRequired: token !== undefined,
    maxPayload: maxBodyBytes,
    maxQueuedBytes: options.maxQueuedBytes ?? 2 * maxBodyBytes + MiB,
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    maxSubscriptions: options.maxSubscriptionsPerSocket ?? 1_000,
    onWelcome: (socket) => slots.prove(socket as Socket | undefined),
    parse: (data) => parser.parse(data),
    bodies,
    metrics,
    log: app.log,
    serverName: `koru-delta/${version}`,
    server: context,
    track,
  });
  app.server.on('upgrade', (req, socket, head) => {
    if (guard.refuseUpgrade(req, socket)) return;
    // From here a socket is held to its protocol's deadline (the hello's; for a member's
    // link, the cluster handshake's). It stays pending: a flood can still not crowd out
    // authenticated ones.
    slots.upgraded(socket as Socket);
    if (clusterTransport?.upgrade(req, socket, head) === true) return;
    ws.upgrade(req, socket, head);
  });

  app.server.on('connection', (socket: Socket) => void slots.admit(socket));

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
  if (clusterOptions !== undefined && clusterTransport !== undefined) {
    const { join, key: _key, advertise, ...tuning } = clusterOptions;
    clusterRef.node = ClusterNode.start({
      ...tuning,
      db,
      transport: clusterTransport,
      address: advertise ?? `${advertisedHost(host)}:${actualPort}`,
      ...(join !== undefined ? { join } : {}),
      ...(clusterKey !== undefined ? { clusterKey } : {}),
      log: (level, message, fields) => app.log[level]({ ...fields }, message),
    });
  }
  state = 'ready';
  let closing: Promise<void> | undefined;
  return {
    url,
    port: actualPort,
    db,
    get cluster() {
      return clusterRef.node;
    },
    console: consoleDir !== undefined ? { url: `${url}/`, dir: consoleDir.dir, built: consoleRoutes?.built === true } : undefined,
    get state() {
      return state;
    },
    close() {
      state = 'stopping';
      closing ??= (async () => {
        // Tell the other members first, while the links are still up.
        await clusterRef.node?.stop();
        const closed = app.close(); // stops accepting; waits for in-flight HTTP requests
        slots.closePending(); // nothing in flight there, and Node would wait for them
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        closeAll(ws.wss);
        await closed;
        if (marker !== undefined) await rm(marker, { force: true });
        await parser.close();
        if (ownsDb) await db.close();
      })();
      return closing;
    },
  };
}

function loggerOf(mode: 'json' | 'pretty' | 'silent', level: LogLevel): boolean | object {
  if (mode === 'silent' || level === 'silent') return false;
  // The token is never logged: requests are not logged with their headers.
  if (mode === 'pretty') return { level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } };
  return { level };
}

/**
 * The host other members dial: the bound one, or for a wildcard bind (`0.0.0.0`, `::`)
 * this machine's first non-internal address (as gossip-based systems usually pick),
 * loopback if it has none. `advertise` overrides it.
 */
function advertisedHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return host.includes(':') ? `[${host}]` : host;
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const v4 = all.find((a) => !a.internal && a.family === 'IPv4');
  if (v4 !== undefined) return v4.address;
  const v6 = all.find((a) => !a.internal && a.family === 'IPv6' && !a.address.startsWith('fe80'));
  return v6 !== undefined ? `[${v6.address}]` : '127.0.0.1';
}
