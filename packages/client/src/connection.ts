/**
 * One logical connection to a server over successive WebSockets: the hello/welcome
 * handshake, calls by id, pushed events, and reconnecting with exponential backoff and
 * jitter after the socket drops.
 *
 * Calls made while there is no socket wait in a queue for the next welcome, each for at
 * most `timeoutMs`. Calls in flight when a socket drops are resent after the reconnect
 * when they are safe to repeat (`retry`: reads, and writes that are idempotent), and
 * fail with IO_ERROR otherwise: the server may or may not have applied them.
 */
import { ErrorCodes, InvalidArgumentError, isKoruError, KoruError, utf8Length } from '@koru/engine';
import { closedError, errorFromWire, ioError, preview, protocolError } from './errors.js';
import type { WebSocketConstructor, WebSocketLike } from './platform.js';

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/** Where a client's connection is. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Settings of a {@link Connection}, resolved from the client's options. */
export interface ConnectionConfig {
  /** The server's base URL, for messages. */
  readonly url: string;
  /** The WebSocket endpoint. */
  readonly wsUrl: string;
  readonly token: string | undefined;
  readonly WebSocket: WebSocketConstructor;
  /** Backoff between attempts, or false: a lost connection closes the client. */
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number } | false;
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
  readonly onStateChange: ((state: ConnectionState, error?: KoruError) => void) | undefined;
}

/** What the connection tells its owner. */
export interface ConnectionHooks {
  /** A welcome arrived (the first one, or after a reconnect). */
  open(): void;
  /** The socket was lost after a welcome; a reconnect follows unless the client closes. */
  down(): void;
  /** An event pushed for subscription `sid` of the current socket. */
  event(sid: string, event: unknown): void;
  /** The server ended subscription `sid` of the current socket (`error`: why, if it failed). */
  ended(sid: string, error: unknown): void;
  /** The client closed (`error` undefined) or failed for good. */
  closed(error: KoruError | undefined): void;
}

/** How a call behaves when the connection is lost. */
export interface CallKind {
  /** Resend it after a reconnect if it was in flight (safe to repeat). */
  readonly retry: boolean;
  /** Fail it after `timeoutMs` without a connection (false: wait as long as the client lives). */
  readonly bounded: boolean;
}

/** A call's outcome: an error, or the result (undefined error). */
export type Reply = (error: KoruError | undefined, result?: unknown) => void;

interface Call {
  readonly id: number;
  readonly method: string;
  readonly text: string;
  readonly kind: CallKind;
  /** How many sockets were lost with it in flight. */
  lost: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly reply: Reply;
}

/** A retried call gives up after being in flight on this many lost sockets. */
const MAX_LOSSES = 5;

const CONNECTING = 0;
const OPEN = 1;

const noop = (): void => {};

/** Closes a socket, whatever state it is in, and stops listening to it (but keeps an error listener: `ws` throws without one). */
function discard(ws: WebSocketLike): void {
  ws.onopen = noop;
  ws.onmessage = noop;
  ws.onclose = noop;
  ws.onerror = noop;
  try {
    if (ws.readyState === CONNECTING || ws.readyState === OPEN) ws.close(1000);
  } catch {
    // Already closing.
  }
}

/** What an error event says, when the platform says anything (browsers do not). */
function describeError(event: unknown): string | undefined {
  const e = event as { message?: unknown; error?: { message?: unknown } } | null;
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  if (typeof e?.error?.message === 'string') return e.error.message;
  return undefined;
}

/** A connection (see the module comment). */
export class Connection {
  readonly #cfg: ConnectionConfig;
  readonly #hooks: ConnectionHooks;
  #state: ConnectionState = 'connecting';
  #socket: WebSocketLike | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Call>();
  #queue: Call[] = [];
  #attempts = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #failure: KoruError | undefined;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  /** Abandons the handshake in progress, if any. */
  #abortOpen: ((error: KoruError) => void) | undefined;

  /** The server's node id, from the last welcome. */
  nodeId = '';
  /** The server's name and version, from the last welcome. */
  server = '';
  /** The last seq known: the last welcome's, or a later one seen since. */
  seq = 0;

  constructor(config: ConnectionConfig, hooks: ConnectionHooks) {
    this.#cfg = config;
    this.#hooks = hooks;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Notes a seq seen (an event's, a `seq` call's). */
  noteSeq(seq: unknown): void {
    if (typeof seq === 'number' && seq > this.seq) this.seq = seq;
  }

  /** The first connection: resolves at the welcome; rejects (without retrying) on failure. */
  async start(): Promise<void> {
    try {
      await this.#open();
    } catch (e) {
      this.#state = 'closed';
      this.#failure = e as KoruError;
      throw e;
    }
  }

  /**
   * Sends a call now, or when connected; `reply` gets the result or a KoruError. Never
   * throws.
   */
  request(method: string, params: readonly unknown[], kind: CallKind, reply: Reply): void {
    if (this.#state === 'closed' || this.#closing !== undefined) return reply(this.#failure ?? closedError());
    const id = this.#nextId++;
    let text: string;
    try {
      text = JSON.stringify({ id, method, params });
    } catch (e) {
      return reply(new InvalidArgumentError(`${method}: the arguments cannot be sent as JSON: ${e instanceof Error ? e.message : String(e)}`));
    }
    const max = this.#cfg.maxMessageBytes;
    if (text.length * 3 > max && utf8Length(text) > max) {
      // The server would close the socket (1009) rather than answer.
      return reply(
        new KoruError(ErrorCodes.BODY_TOO_LARGE, `${method}: the message is ${utf8Length(text)} bytes, over the limit of ${max} (maxMessageBytes)`, {
          details: { bytes: utf8Length(text), maxBytes: max },
        }),
      );
    }
    const call: Call = { id, method, text, kind, lost: 0, timer: undefined, reply };
    if (this.#state === 'open' && this.#socket !== undefined) this.#transmit(this.#socket, call);
    else this.#wait(call);
  }

  /** Sends a call whose answer does not matter (an unsubscribe), only if connected. */
  notify(method: string, params: readonly unknown[]): void {
    if (this.#state !== 'open' || this.#socket === undefined || this.#closing !== undefined) return;
    this.request(method, params, { retry: false, bounded: true }, noop);
  }

  /**
   * Closes the client: calls not yet sent fail with CLOSED (they were not applied); calls
   * in flight are answered first (for at most `timeoutMs`); then the socket is closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state === 'closed') return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#abortOpen?.(closedError());
    this.#rejectQueue(closedError());
    this.#hooks.closed(undefined);
    if (this.#pending.size > 0 && this.#socket !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#cfg.timeoutMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#drained = undefined;
    }
    this.#setState('closed');
    const ws = this.#socket;
    this.#socket = undefined;
    if (ws !== undefined) discard(ws);
    this.#failPending(undefined);
  }

  /** Opens a socket and shakes hands; resolves at the welcome. */
  #open(): Promise<void> {
    const { url, wsUrl, timeoutMs, token } = this.#cfg;
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new this.#cfg.WebSocket(wsUrl);
      } catch (e) {
        reject(ioError(`cannot connect to ${url}: ${e instanceof Error ? e.message : String(e)}`, { url }));
        return;
      }
      let settled = false;
      let errorText: string | undefined;
      const fail = (error: KoruError): void => {
        if (settled) return;
        settled = true;
        this.#abortOpen = undefined;
        clearTimeout(timer);
        if (this.#socket === ws) this.#socket = undefined;
        discard(ws);
        reject(error);
      };
      const timer = setTimeout(() => fail(ioError(`no welcome from ${url} within ${timeoutMs} ms`, { url })), timeoutMs);
      this.#socket = ws;
      this.#abortOpen = fail;
      ws.onopen = () => {
        try {
          ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, ...(token !== undefined ? { token } : {}) }));
        } catch (e) {
          fail(ioError(`cannot send the hello to ${url}: ${e instanceof Error ? e.message : String(e)}`, { url }));
        }
      };
      ws.onerror = (event: unknown) => {
        errorText = describeError(event) ?? errorText;
      };
      ws.onmessage = (event: { data: unknown }) => {
        if (settled) return this.#onMessage(ws, event.data);
        type First = { type?: unknown; protocol?: unknown; error?: unknown; node?: unknown; server?: unknown; seq?: unknown } | null;
        let msg: First = null;
        try {
          msg = typeof event.data === 'string' ? (JSON.parse(event.data) as First) : null;
        } catch {
          // Reported below.
        }
        if (msg?.type === 'error') return fail(errorFromWire(msg.error));
        if (msg?.type !== 'welcome') return fail(protocolError(`expected a welcome from ${url}, got ${preview(event.data)}`));
        if (msg.protocol !== PROTOCOL_VERSION) return fail(protocolError(`${url} speaks protocol ${String(msg.protocol)}; this client speaks ${PROTOCOL_VERSION}`));
        if (this.#state === 'closed' || this.#closing !== undefined) return fail(closedError());
        settled = true;
        this.#abortOpen = undefined;
        clearTimeout(timer);
        ws.onclose = (e: { code?: number; reason?: string }) => this.#onClose(ws, e);
        this.nodeId = typeof msg.node === 'string' ? msg.node : '';
        this.server = typeof msg.server === 'string' ? msg.server : '';
        this.seq = typeof msg.seq === 'number' ? msg.seq : this.seq;
        this.#attempts = 0;
        this.#setState('open');
        resolve();
        this.#hooks.open();
        this.#flush(ws);
      };
      ws.onclose = (event: { code?: number; reason?: string }) => {
        const why = errorText ?? `the socket closed (${event.code ?? '?'}${event.reason ? ` ${event.reason}` : ''})`;
        fail(ioError(`cannot connect to ${url}: ${why}`, { url }));
      };
    });
  }

  #setState(state: ConnectionState, error?: KoruError): void {
    if (this.#state === state) return;
    this.#state = state;
    try {
      this.#cfg.onStateChange?.(state, ...(error !== undefined ? [error] : []));
    } catch {
      // A throwing listener must not break the connection.
    }
  }

  #transmit(ws: WebSocketLike, call: Call): void {
    this.#pending.set(call.id, call);
    try {
      ws.send(call.text);
    } catch {
      // The socket is going away: its close handler decides the call's fate.
    }
  }

  /** Queues a call until the next welcome (bounded by timeoutMs when the kind says so). */
  #wait(call: Call, front = false): void {
    if (call.kind.bounded) {
      const { timeoutMs, url } = this.#cfg;
      call.timer = setTimeout(() => {
        const i = this.#queue.indexOf(call);
        if (i >= 0) this.#queue.splice(i, 1);
        call.reply(ioError(`${call.method}: no connection to ${url} within ${timeoutMs} ms`, { url, method: call.method }));
      }, timeoutMs);
    }
    if (front) this.#queue.unshift(call);
    else this.#queue.push(call);
  }

  #flush(ws: WebSocketLike): void {
    const queued = this.#queue;
    this.#queue = [];
    for (const call of queued) {
      clearTimeout(call.timer);
      call.timer = undefined;
      if (this.#socket === ws) this.#transmit(ws, call);
      else this.#wait(call);
    }
  }

  #onMessage(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#socket) return;
    let msg: { type?: unknown; id?: unknown; result?: unknown; error?: unknown; subscription?: unknown; event?: unknown };
    try {
      if (typeof data !== 'string') throw new Error('binary frame');
      msg = JSON.parse(data) as typeof msg;
      if (msg === null || typeof msg !== 'object') throw new Error('not an object');
    } catch {
      // Not the protocol: drop this socket and reconnect.
      this.#onClose(ws, { code: 1007, reason: 'the server sent a message that is not a JSON object' });
      discard(ws);
      return;
    }
    if (msg.type === 'event') {
      if (typeof msg.subscription === 'string') this.#hooks.event(msg.subscription, msg.event);
      return;
    }
    if (msg.type === 'end') {
      if (typeof msg.subscription === 'string') this.#hooks.ended(msg.subscription, msg.error);
      return;
    }
    if (typeof msg.id === 'number') {
      const call = this.#pending.get(msg.id);
      if (call === undefined) return;
      this.#pending.delete(msg.id);
      if (msg.error !== undefined) call.reply(errorFromWire(msg.error));
      else call.reply(undefined, msg.result);
      if (this.#pending.size === 0) this.#drained?.();
    }
    // `{ type: 'error' }` after the welcome precedes the server closing the socket.
  }

  #onClose(ws: WebSocketLike, event: { code?: number; reason?: string }): void {
    if (ws !== this.#socket) return;
    this.#socket = undefined;
    discard(ws);
    const { url, reconnect } = this.#cfg;
    if (this.#state === 'closed' || this.#closing !== undefined || reconnect === false) {
      const lost = ioError(`connection to ${url} lost (${event.code ?? '?'})`, { url });
      this.#setState('closed', this.#closing !== undefined ? undefined : lost);
      this.#failPending(lost);
      if (this.#closing === undefined) {
        this.#failure = lost;
        this.#rejectQueue(lost);
        this.#hooks.down();
        this.#hooks.closed(lost);
      }
      this.#drained?.();
      return;
    }
    this.#setState('reconnecting');
    const retry: Call[] = [];
    for (const call of this.#pending.values()) {
      if (call.kind.retry && ++call.lost <= MAX_LOSSES) retry.push(call);
      else call.reply(lostError(call, url));
    }
    this.#pending.clear();
    for (let i = retry.length - 1; i >= 0; i--) this.#wait(retry[i]!, true);
    this.#hooks.down();
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const { reconnect } = this.#cfg;
    if (reconnect === false) return;
    const ceiling = Math.min(reconnect.maxDelayMs, reconnect.initialDelayMs * 2 ** Math.min(this.#attempts, 30));
    this.#attempts++;
    // "Equal jitter": between half the ceiling and the ceiling, so clients spread out
    // after a restart but none hammers the server.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state !== 'reconnecting' || this.#closing !== undefined) return;
      this.#open().catch((e: unknown) => {
        if (this.#state !== 'reconnecting' || this.#closing !== undefined) return;
        // A wrong token or another protocol will not fix itself: give up.
        if (isKoruError(e, ErrorCodes.UNAUTHORIZED) || isKoruError(e, ErrorCodes.PROTOCOL_ERROR)) return this.#fail(e);
        this.#scheduleReconnect();
      });
    }, delay);
  }

  /** Fails for good: every waiting call and subscription gets `error`. */
  #fail(error: KoruError): void {
    this.#failure = error;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#abortOpen?.(error);
    const ws = this.#socket;
    this.#socket = undefined;
    if (ws !== undefined) discard(ws);
    this.#setState('closed', error);
    this.#rejectQueue(error);
    this.#failPending(error);
    this.#hooks.closed(error);
  }

  #rejectQueue(error: KoruError): void {
    const queued = this.#queue;
    this.#queue = [];
    for (const call of queued) {
      clearTimeout(call.timer);
      call.reply(error);
    }
  }

  /** Fails every call in flight: writes with "may or may not have been applied", reads with `error` (default CLOSED). */
  #failPending(error: KoruError | undefined): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) call.reply(call.kind.retry ? (error ?? closedError()) : lostError(call, this.#cfg.url));
  }
}

/** The error of a call in flight on a lost socket. */
function lostError(call: Call, url: string): KoruError {
  if (call.kind.retry) return ioError(`${call.method}: connection to ${url} lost ${call.lost} times while waiting for the answer`, { url, method: call.method });
  return ioError('connection lost; the write may or may not have been applied', { url, method: call.method });
}
