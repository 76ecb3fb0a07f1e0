/**
 * The cluster rows' clients, in the bench process, over each member's WebSocket API
 * (PROTOCOL.md): a paced writer that records when each put was sent and when its answer
 * came, and subscribers that record when each change event arrives. One process and one
 * clock (performance.now()) for all of them, so times compare directly.
 */
import WebSocket from 'ws';
import { openHelloSocket } from './ws-load.js';

const socketErrors = new WeakMap<WebSocket, string>();
const COMMA = 0x2c;
const LETTER_E = 0x65;
const ID_I = 0x69;
const ID_D = 0x64;
/**
 * What precedes the write's index in a change event: the lag writer's values carry it as
 * `_i`, which sorts first (the server sends values with their keys in canonical order).
 */
const VALUE_I = Buffer.from('"value":{"_i":');

/** Why a socket failed, if it did. */
export function socketError(socket: WebSocket): string | undefined {
  return socketErrors.get(socket);
}

/** Connects to `<url>/v1/ws` and completes the hello → welcome handshake. */
export function openSocket(url: string, timeoutMs = 10_000): Promise<WebSocket> {
  // Errors after the handshake end the socket (close 1006): keep the first, for the report.
  return openHelloSocket(url, timeoutMs, (e, socket) => void (socketErrors.get(socket) ?? socketErrors.set(socket, e.message)));
}

export function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close(1000);
  });
}

/** What a paced writer did; times are performance.now(), NaN where it did not happen. */
export interface PacedWrites {
  /** puts sent (the i-th put has index i) */
  readonly sent: number;
  readonly acked: number;
  readonly errors: number;
  readonly firstError?: string;
  /** puts not sent because `maxOutstanding` were unanswered (the member fell behind) */
  readonly skipped: number;
  readonly sentAt: Float64Array;
  readonly ackedAt: Float64Array;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface PacedOptions {
  readonly rate: number;
  readonly ms: number;
  readonly namespace: string;
  readonly key: (i: number) => string;
  /** JSON text of the i-th value */
  readonly value: (i: number) => string;
  readonly maxOutstanding?: number;
}

/**
 * Sends `rate` puts per second for `ms` (every tick, as many as are due since the start),
 * each `{ id: i + 1, method: 'put', params: [ns, key(i), value(i)] }`, and resolves once
 * every put was answered (or 30 s after the end).
 */
export function pacedPuts(socket: WebSocket, o: PacedOptions): Promise<PacedWrites> {
  const capacity = Math.ceil((o.rate * o.ms) / 1000) + 16;
  const sentAt = new Float64Array(capacity).fill(Number.NaN);
  const ackedAt = new Float64Array(capacity).fill(Number.NaN);
  const maxOutstanding = o.maxOutstanding ?? 10_000;
  const ns = JSON.stringify(o.namespace);
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let skipped = 0;
  let firstError: string | undefined;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let finished = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearInterval(tick);
      clearTimeout(drainTimer);
      socket.off('message', onMessage);
      socket.off('close', onClose);
      resolve({ sent, acked, errors, skipped, sentAt, ackedAt, startedAt: t0, endedAt: performance.now(), ...(firstError !== undefined ? { firstError } : {}) });
    };
    const onClose = (code: number): void => {
      if (finished) return;
      finished = true;
      clearInterval(tick);
      clearTimeout(drainTimer);
      const why = socketErrors.get(socket);
      reject(new Error(`the writer's socket closed (${code}${why !== undefined ? `: ${why}` : ''}) after ${acked} answers, ${sent} puts sent`));
    };
    const onMessage = (data: Buffer): void => {
      const now = performance.now();
      // Answers are `{"id":N,"result":…}` or `{"id":N,"error":…}`: read the id and the kind from the first bytes.
      if (data[2] !== ID_I || data[3] !== ID_D) return;
      const comma = data.indexOf(COMMA, 6);
      let id = 0;
      for (let k = 6; k < comma; k++) id = id * 10 + (data[k]! - 48);
      const i = id - 1;
      if (i < 0 || i >= sent || !Number.isNaN(ackedAt[i]!)) return;
      ackedAt[i] = now;
      acked++;
      if (data[comma + 2] === LETTER_E) {
        errors++;
        firstError ??= data.toString().slice(0, 300);
      }
      if (drainTimer !== undefined && acked + errors >= sent) finish();
    };
    socket.on('message', onMessage);
    socket.once('close', onClose);
    let scheduled = 0;
    const tick = setInterval(() => {
      const elapsed = performance.now() - t0;
      const due = Math.min(capacity, Math.floor((Math.min(elapsed, o.ms) * o.rate) / 1000));
      while (scheduled < due) {
        scheduled++;
        if (sent - acked >= maxOutstanding) {
          skipped++;
          continue;
        }
        const i = sent++;
        sentAt[i] = performance.now();
        socket.send(`{"id":${i + 1},"method":"put","params":[${ns},${JSON.stringify(o.key(i))},${o.value(i)}]}`);
      }
      if (elapsed >= o.ms && drainTimer === undefined) {
        clearInterval(tick);
        if (acked >= sent) return finish();
        drainTimer = setTimeout(finish, 30_000);
      }
    }, 1);
  });
}

/** A subscription recording when each change of one namespace arrives, by the `_i` field of its value (write i). */
export interface Seen {
  /** performance.now() when the event of write i arrived (NaN: not yet) */
  readonly at: Float64Array;
  count: number;
  duplicates: number;
  /** events whose value had no `_i` in 0 ..< capacity (the warm-up's are negative) */
  foreign: number;
  lagged: number;
  ended: string | undefined;
  /** set when the socket closed (the member drops a subscriber that falls 8 MiB behind) */
  closed: string | undefined;
}

/** Subscribes on `socket` to `namespace`; events of writes 0 ..< capacity are recorded in the returned object (others, e.g. a negative `_i`, are counted as foreign). */
export async function subscribeSeen(socket: WebSocket, namespace: string, capacity: number): Promise<Seen> {
  const seen: Seen = { at: new Float64Array(capacity).fill(Number.NaN), count: 0, duplicates: 0, foreign: 0, lagged: 0, ended: undefined, closed: undefined };
  const id = 1_000_000_000;
  const answered = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer to subscribe in 10 s')), 10_000);
    socket.on('close', (code: number) => {
      seen.closed = `closed (${code}${socketErrors.get(socket) !== undefined ? `: ${socketErrors.get(socket)}` : ''})`;
    });
    socket.on('message', (data: Buffer) => {
      const now = performance.now();
      // Change events of the writer's values: read `i` from the bytes (no JSON.parse of every event).
      if (data.length > 16 && data[2] === 0x74 /* t of "type" */) {
        const at = data.indexOf(VALUE_I);
        if (at > 0) {
          let k = at + VALUE_I.length;
          const negative = data[k] === 0x2d;
          if (negative) k++;
          let i = 0;
          let digits = 0;
          for (; data[k]! >= 48 && data[k]! <= 57; k++, digits++) i = i * 10 + (data[k]! - 48);
          if (digits > 0 && !negative && i < capacity) {
            if (Number.isNaN(seen.at[i]!)) {
              seen.at[i] = now;
              seen.count++;
            } else seen.duplicates++;
            return;
          }
          if (digits > 0) {
            seen.foreign++;
            return;
          }
        }
      }
      const m = JSON.parse(data.toString()) as {
        id?: number;
        error?: { message: string };
        type?: string;
        event?: { type: string; value?: { _i?: unknown } };
      };
      if (m.type === 'event') {
        if (m.event?.type === 'lagged') {
          seen.lagged++;
          return;
        }
        const i = m.event?.value?._i;
        if (typeof i !== 'number' || i < 0 || i >= capacity) {
          seen.foreign++;
          return;
        }
        if (Number.isNaN(seen.at[i]!)) {
          seen.at[i] = now;
          seen.count++;
        } else seen.duplicates++;
        return;
      }
      if (m.type === 'end') {
        seen.ended = data.toString().slice(0, 300);
        return;
      }
      if (m.id === id) {
        clearTimeout(timer);
        if (m.error !== undefined) reject(new Error(`subscribe failed: ${m.error.message}`));
        else resolve();
      }
    });
  });
  socket.send(JSON.stringify({ id, method: 'subscribe', params: [{ namespace, bufferSize: 1_000_000 }] }));
  await answered;
  return seen;
}

/** Resolves once `done()` is true or `timeoutMs` passed (checked every 20 ms); true if done. */
export async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
