/**
 * A small WebSocket load client speaking PROTOCOL.md: `hello` → `welcome`, then calls
 * `{ id, method, params }` answered by `{ id, result }` or `{ id, error }`. Requests are
 * pre-built strings with the id spliced in, and answers are told apart by their first
 * bytes (`{"id":N,"result"` vs `{"id":N,"error"`) rather than parsed, so the load
 * process spends its time sending, not decoding. Answers are checked in full, untimed,
 * by `call`.
 */
import WebSocket from 'ws';

/** A request without its id: `{"id":` + id + `tail`. */
export type RequestTail = string;

export const getTail = (namespace: string, key: string): RequestTail => `,"method":"get","params":${JSON.stringify([namespace, key])}}`;
export const putTail = (namespace: string, key: string, value: unknown): RequestTail => `,"method":"put","params":${JSON.stringify([namespace, key, value])}}`;

const COMMA = 0x2c;
const LETTER_E = 0x65;

/** The id of an answer, and whether it is an error, from its first bytes. */
function answerOf(data: Buffer): { id: number; error: boolean } {
  // `{"id":` is 6 bytes; the id runs to the next comma.
  const comma = data.indexOf(COMMA, 6);
  let id = 0;
  for (let i = 6; i < comma; i++) id = id * 10 + (data[i]! - 48);
  return { id, error: data[comma + 2] === LETTER_E };
}

/** A call that got no answer within its deadline. */
export class CallTimeout extends Error {
  override readonly name = 'CallTimeout';
}

/**
 * Connects to `<url>/v1/ws` and completes the hello → welcome handshake; `onError` then
 * hears the socket's later errors. A `token` goes in the upgrade's `Authorization` header,
 * so the server knows the socket is authenticated before any message.
 */
export function openHelloSocket(url: string, timeoutMs: number, onError: (e: Error, socket: WebSocket) => void, token?: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`, {
    perMessageDeflate: false,
    ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`${url}: no welcome in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'hello', protocol: 1 })));
    socket.once('message', (data: Buffer) => {
      clearTimeout(timer);
      const message = JSON.parse(data.toString()) as { type?: string };
      if (message.type !== 'welcome') {
        socket.terminate();
        reject(new Error(`${url}: expected a welcome, got ${data.toString().slice(0, 200)}`));
        return;
      }
      socket.on('error', (e) => onError(e, socket));
      resolve(socket);
    });
  });
}

/** One session: connected and welcomed. */
export class WsSession {
  private nextId = 1;
  private readonly waiting = new Map<number, (message: { result?: unknown; error?: { code: string; message: string } }) => void>();
  private onAnswer: ((data: Buffer) => void) | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      if (this.onAnswer !== undefined) return this.onAnswer(data);
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { code: string; message: string } };
      if (typeof message.id === 'number') {
        const settle = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        settle?.(message);
      }
    });
  }

  /** Connects to `<url>/v1/ws` (with `token` in the upgrade's header, if given) and completes the handshake. */
  static async open(url: string, timeoutMs = 10_000, token?: string): Promise<WsSession> {
    // Errors after the handshake surface as failed calls or a close.
    return new WsSession(await openHelloSocket(url, timeoutMs, () => {}, token));
  }

  /**
   * One call, answer parsed: resolves with the result, rejects with the wire error, or
   * (with `timeoutMs`) with a CallTimeout when no answer came in time.
   */
  call(method: string, params: readonly unknown[], timeoutMs?: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.waiting.delete(id);
        reject(new CallTimeout(`${method}: no answer in ${Math.round(timeoutMs)} ms`));
      }, timeoutMs);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m.error !== undefined) reject(new Error(`${m.error.code}: ${m.error.message}`));
        else resolve(m.result);
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /**
   * Keeps `inFlight` calls outstanding for `ms`: each answer sends the next request
   * (`tails[i & mask]`, `tails.length` a power of two). Ends when every call answered.
   */
  closedLoop(tails: readonly RequestTail[], inFlight: number, ms: number): Promise<{ ops: number; errors: number; ms: number; firstError?: string }> {
    const mask = tails.length - 1;
    if ((tails.length & mask) !== 0) throw new Error('tails.length must be a power of two');
    let sent = 0;
    let answered = 0;
    let errors = 0;
    let firstError: string | undefined;
    let stopping = false;
    const send = (): void => {
      this.socket.send(`{"id":${this.nextId++}${tails[sent & mask]!}`);
      sent++;
    };
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(() => (stopping = true), ms);
      const onClose = (code: number): void => {
        clearTimeout(timer);
        this.onAnswer = undefined;
        reject(new Error(`the server closed the socket (${code}) after ${answered} answers`));
      };
      this.socket.once('close', onClose);
      this.onAnswer = (data) => {
        answered++;
        if (answerOf(data).error) {
          errors++;
          firstError ??= data.toString().slice(0, 300);
        }
        if (!stopping) send();
        else if (answered === sent) {
          this.onAnswer = undefined;
          this.socket.off('close', onClose);
          const out = { ops: answered, errors, ms: performance.now() - t0 };
          resolve(firstError !== undefined ? { ...out, firstError } : out);
        }
      };
      for (let i = 0; i < inFlight; i++) send();
    });
  }

  /**
   * Paced load: every `tickMs`, sends enough requests to keep `ratePerSecond` (never
   * more than `maxOutstanding` unanswered). Resolves when `ms` passed and all answered;
   * `maxGapMs` is the longest wait for an answer while calls were outstanding (a stalled server shows here).
   */
  paced(next: () => RequestTail, ratePerSecond: number, ms: number, maxOutstanding = 1_000, tickMs = 10): Promise<{ ops: number; errors: number; skipped: number; maxGapMs: number; firstError?: string }> {
    let scheduled = 0;
    let sent = 0;
    let answered = 0;
    let errors = 0;
    let skipped = 0;
    let firstError: string | undefined;
    let maxGapMs = 0;
    let waitingSince = 0;
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      let finished = false;
      const finish = (): void => {
        if (finished || answered < sent || performance.now() - t0 < ms) return;
        finished = true;
        clearInterval(tick);
        this.onAnswer = undefined;
        this.socket.off('close', onClose);
        resolve({ ops: answered, errors, skipped, maxGapMs, ...(firstError !== undefined ? { firstError } : {}) });
      };
      const onClose = (code: number): void => {
        clearInterval(tick);
        this.onAnswer = undefined;
        reject(new Error(`the server closed the socket (${code}) after ${answered} answers`));
      };
      this.socket.once('close', onClose);
      this.onAnswer = (data) => {
        answered++;
        const now = performance.now();
        if (now - waitingSince > maxGapMs) maxGapMs = now - waitingSince;
        waitingSince = now;
        if (answerOf(data).error) {
          errors++;
          firstError ??= data.toString().slice(0, 300);
        }
        finish();
      };
      const tick = setInterval(() => {
        const elapsed = performance.now() - t0;
        if (elapsed >= ms) return finish();
        const due = Math.floor((elapsed * ratePerSecond) / 1000);
        while (scheduled < due) {
          scheduled++;
          // A server that falls behind is not buried: the call is skipped and counted.
          if (sent - answered >= maxOutstanding) {
            skipped++;
            continue;
          }
          // The wait for an answer starts when a call is sent with none outstanding.
          if (sent === answered) waitingSince = performance.now();
          this.socket.send(`{"id":${this.nextId++}${next()}`);
          sent++;
        }
      }, tickMs);
    });
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close(1000);
    });
  }
}
