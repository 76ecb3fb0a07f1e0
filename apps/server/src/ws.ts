/** The WebSocket protocol on /v1/ws (PROTOCOL.md): handshake, calls by id, subscriptions, flow control. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCodes, KoruError, type KoruDelta, type Subscription } from '@koru/delta';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearer } from './auth.js';
import { runCall } from './calls.js';
import { toWireError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { BodyBudget } from './body.js';
import { runServerCall, type ServerContext } from './server-calls.js';

/** The protocol version this server speaks. */
export const PROTOCOL_VERSION = 1;

export interface WsOptions {
  readonly db: KoruDelta;
  readonly check: (token: string | undefined) => boolean;
  readonly tokenRequired: boolean;
  readonly maxPayload: number;
  readonly maxQueuedBytes: number;
  /** A socket that sends no welcomed hello within this many ms is closed (4008). */
  readonly helloTimeoutMs: number;
  /** Most live subscriptions on one socket; more are refused with LIMIT_EXCEEDED. */
  readonly maxSubscriptions: number;
  /** Called once a socket's hello is welcomed: the connection has authenticated. */
  readonly onWelcome: (socket: Duplex | undefined) => void;
  /** The server-wide budget of bytes still arriving, shared with HTTP bodies (body.ts). */
  readonly bodies: BodyBudget;
  /** Parses a message, off the event loop when it is large (see body.ts). */
  readonly parse: (data: Buffer) => Promise<unknown> | unknown;
  readonly metrics: Metrics;
  readonly log: FastifyBaseLogger;
  readonly serverName: string;
  /** What the server-level calls (`serverStatus`, `clusterPeers`, `serverMetrics`) answer from. */
  readonly server: ServerContext;
  /** Tracks a call until it settles, so shutdown can wait for in-flight writes. */
  readonly track: (p: Promise<unknown>) => void;
}

/** Accepts upgrades to /v1/ws; returns the server so shutdown can close its sockets. */
export function createWsHandler(o: WsOptions): { wss: WebSocketServer; upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxPayload });
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    const reject = (status: string, code: string, message: string): void => {
      const body = JSON.stringify({ error: { code, message } });
      socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    if (path !== '/v1/ws') return reject('404 Not Found', ErrorCodes.NOT_FOUND, `no WebSocket endpoint at ${path}; use /v1/ws`);
    const header = req.headers.authorization;
    if (header !== undefined && !o.check(bearer(header))) return reject('401 Unauthorized', ErrorCodes.UNAUTHORIZED, 'wrong token');
    wss.handleUpgrade(req, socket, head, (ws) => session(ws, o, header !== undefined || !o.tokenRequired));
  };
  return { wss, upgrade };
}

function session(ws: WebSocket, o: WsOptions, preauthorized: boolean): void {
  const { db, metrics } = o;
  let welcomed = false;
  let nextSub = 1;
  const subs = new Map<string, Subscription>();
  metrics.sockets.inc();
  // A socket that never says hello would hold its slot for ever.
  const helloTimer = setTimeout(() => {
    if (!welcomed) fail(4008, ErrorCodes.PROTOCOL_ERROR, `no hello within ${o.helloTimeoutMs} ms`);
  }, o.helloTimeoutMs);
  helloTimer.unref();

  // Answers produced in the same tick leave in one write: the socket is corked on the
  // first and uncorked after the tick (one syscall per tick instead of one per answer).
  // The connection under the WebSocket (`ws` keeps it as `_socket`).
  const socket = (ws as unknown as { _socket?: Duplex })._socket;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket?.uncork();
  };
  const send = (message: unknown): void => {
    if (ws.readyState !== ws.OPEN) return;
    // A client that stops reading must not make the server buffer without bound. An
    // answer goes whenever the queue is within the limit, whatever its own size: the
    // documented value limit, not the queue, bounds what a client may ask for, so the
    // queue holds at most the limit plus one answer.
    if (ws.bufferedAmount > o.maxQueuedBytes) {
      o.log.warn({ queued: ws.bufferedAmount }, 'websocket client too slow: disconnected');
      ws.terminate();
      return;
    }
    if (!corked && socket !== undefined) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    ws.send(JSON.stringify(message));
  };
  const fail = (closeCode: number, code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string): void => {
    send({ type: 'error', error: { code, message } });
    ws.close(closeCode, message.slice(0, 120));
  };

  type Message = { type?: unknown; protocol?: unknown; token?: unknown; id?: unknown; method?: unknown; params?: unknown };
  const refuse = (e: unknown): void => {
    if (e instanceof KoruError && e.code === ErrorCodes.LIMIT_EXCEEDED) return fail(1009, e.code, e.message);
    fail(1007, ErrorCodes.PROTOCOL_ERROR, 'every message must be one JSON object in a text frame');
  };
  // A large message is checked on a worker first (body.ts); later messages wait their
  // turn, so calls still run in the order they were sent.
  let behind: Promise<void> | undefined;
  // A message being received counts against the server-wide budget, as an HTTP body does:
  // many sockets each holding most of a large frame cannot take the process's memory.
  // Counted from the raw bytes before the WebSocket parser sees them, reset at each whole
  // message (so a chunk holding the start of the next one is left out: exact to a chunk).
  let arriving = 0;
  const release = (): void => {
    o.bodies.pendingBytes -= arriving;
    arriving = 0;
  };
  socket?.prependListener('data', (chunk: Buffer) => {
    arriving += chunk.length;
    o.bodies.pendingBytes += chunk.length;
    if (o.bodies.pendingBytes > o.bodies.maxPendingBytes && ws.readyState === ws.OPEN) {
      release();
      fail(1013, ErrorCodes.SERVER_BUSY, `the server is receiving ${o.bodies.maxPendingBytes} bytes of messages and bodies already; retry shortly`);
      // The rest of the message is never read.
      setTimeout(() => ws.terminate(), 1_000).unref();
      socket.pause();
    }
  });
  ws.on('message', (data, isBinary) => {
    release();
    if (isBinary) return refuse(undefined);
    if (behind === undefined) {
      let parsed: unknown;
      try {
        parsed = o.parse(data as Buffer);
      } catch (e) {
        return refuse(e);
      }
      if (!(parsed instanceof Promise)) return handle(parsed as Message);
      queue(parsed);
    } else queue(behind.then(() => o.parse(data as Buffer)));
  });
  const queue = (parsed: Promise<unknown>): void => {
    const link = parsed.then((m) => handle(m as Message), refuse);
    behind = link;
    void link.finally(() => {
      if (behind === link) behind = undefined;
    });
  };
  const handle = (msg: Message): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (msg === null || typeof msg !== 'object') return refuse(undefined);
    if (!welcomed) {
      if (msg.type !== 'hello') return fail(4000, ErrorCodes.PROTOCOL_ERROR, 'the first message must be { "type": "hello", "protocol": 1 }');
      if (msg.protocol !== PROTOCOL_VERSION) return fail(4002, ErrorCodes.PROTOCOL_ERROR, `unsupported protocol ${String(msg.protocol)}; this server speaks ${PROTOCOL_VERSION}`);
      if (!preauthorized && !o.check(typeof msg.token === 'string' ? msg.token : undefined)) return fail(4001, ErrorCodes.UNAUTHORIZED, 'missing or wrong token');
      welcomed = true;
      clearTimeout(helloTimer);
      o.onWelcome(socket);
      send({ type: 'welcome', protocol: PROTOCOL_VERSION, server: o.serverName, node: db.nodeId, seq: db.seq });
      return;
    }
    const id = msg.id;
    if (typeof id !== 'number' && typeof id !== 'string') return fail(4000, ErrorCodes.PROTOCOL_ERROR, 'a call needs an id (number or string)');
    const method = msg.method;
    const params = Array.isArray(msg.params) ? msg.params : [];
    if (method === 'subscribe') {
      try {
        if (subs.size >= o.maxSubscriptions) throw new KoruError(ErrorCodes.LIMIT_EXCEEDED, `a socket may hold ${o.maxSubscriptions} subscriptions; unsubscribe one first`, { details: { limit: o.maxSubscriptions } });
        const sid = `s${nextSub++}`;
        const sub = db.subscribe((params[0] ?? {}) as never, (event) => send({ type: 'event', subscription: sid, event }));
        subs.set(sid, sub);
        metrics.subscribers.inc();
        // Tell the client when the subscription ends here (until reached, lagged, handler
        // error, database closing, or its own unsubscribe).
        void sub.done.then(
          () => send({ type: 'end', subscription: sid }),
          (e: unknown) => send({ type: 'end', subscription: sid, error: toWireError(e).error }),
        ).finally(() => {
          if (subs.delete(sid)) metrics.subscribers.dec();
        });
        metrics.wsCalls.inc({ method, outcome: 'ok' });
        send({ id, result: { subscription: sid, seq: db.seq } });
      } catch (e) {
        metrics.wsCalls.inc({ method, outcome: 'error' });
        send({ id, error: toWireError(e).error });
      }
      return;
    }
    if (method === 'unsubscribe') {
      subs.get(String(params[0]))?.unsubscribe();
      send({ id, result: null });
      return;
    }
    const call = (runServerCall(o.server, method, params) ?? runCall(db, method, params)).then(
      (result) => {
        metrics.wsCalls.inc({ method: String(method), outcome: 'ok' });
        if (method === 'put' || method === 'delete') metrics.writes.inc();
        send({ id, result });
      },
      (e: unknown) => {
        metrics.wsCalls.inc({ method: typeof method === 'string' ? method : '?', outcome: 'error' });
        const { error, status } = toWireError(e);
        if (status === 500) o.log.error({ err: e, method }, 'websocket call failed');
        send({ id, error });
      },
    );
    o.track(call);
  };
  ws.on('close', () => {
    clearTimeout(helloTimer);
    release();
    metrics.sockets.dec();
    for (const sub of subs.values()) sub.unsubscribe();
  });
  ws.on('error', (e) => o.log.debug({ err: e }, 'websocket error'));
}

/** Closes every socket (going away) once their calls settled. */
export function closeAll(wss: WebSocketServer): void {
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
}

