// A deterministic world for cluster tests: virtual time, timers, and a network that
// delays, drops, duplicates, corrupts and partitions frames, all driven by one seed.
// The cluster nodes run unchanged on top of it (the Transport and Clock interfaces).
import type { Clock, LinkHandlers, RawLink, Transport } from '@koru/cluster';
import { prng } from '@koru/vitest-preset/helpers';

interface Event {
  readonly at: number;
  readonly order: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** What the network does to frames; all probabilities per frame. */
export interface NetworkFaults {
  minDelayMs: number;
  maxDelayMs: number;
  drop: number;
  duplicate: number;
  corrupt: number;
}

const CALM: NetworkFaults = { minDelayMs: 1, maxDelayMs: 5, drop: 0, duplicate: 0, corrupt: 0 };

/** Virtual time, its timers, and the simulated network. */
export class World {
  // Epoch time (not 0): clocks skewed behind it must still read as real times.
  now = Date.UTC(2026, 0, 1);
  readonly random: () => number;
  faults: NetworkFaults = { ...CALM };
  #queue: Event[] = [];
  #order = 0;
  readonly #listeners = new Map<string, (link: RawLink) => LinkHandlers>();
  /** Unordered pairs of addresses that cannot reach each other. */
  readonly #cut = new Set<string>();
  /** Open connections, to cut them. */
  readonly #conns = new Set<SimConn>();
  /** Frames sent, dropped, duplicated, corrupted (for the test to report). */
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, corrupted: 0 };

  constructor(seed: number) {
    this.random = prng(seed);
  }

  /** A clock for one node, optionally skewed from world time. */
  clock(skewMs = 0): Clock {
    return {
      now: () => this.now + skewMs,
      setTimeout: (fn, ms) => this.schedule(Math.max(0, ms), fn),
      clearTimeout: (h) => {
        if (h !== undefined && h !== null) (h as Event).cancelled = true;
      },
    };
  }

  schedule(inMs: number, fn: () => void): Event {
    const e: Event = { at: this.now + inMs, order: this.#order++, fn, cancelled: false };
    // Binary insertion keeps the queue ordered by (time, order): deterministic.
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const q = this.#queue[mid]!;
      if (q.at < e.at || (q.at === e.at && q.order < e.order)) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, e);
    return e;
  }

  /** Runs events until virtual time `until`, letting promises settle after each. */
  async runUntil(until: number): Promise<void> {
    while (this.#queue.length > 0 && this.#queue[0]!.at <= until) {
      const e = this.#queue.shift()!;
      if (e.cancelled) continue;
      this.now = e.at;
      e.fn();
      await settle();
    }
    this.now = until;
    await settle();
  }

  /** Runs for `ms` of virtual time. */
  run(ms: number): Promise<void> {
    return this.runUntil(this.now + ms);
  }

  /** A transport for the node at `address`. */
  transport(address: string): Transport {
    return {
      dial: (to, h) => this.#dial(address, to, h),
      listen: (accept) => void this.#listeners.set(address, accept),
      close: async () => {
        this.#listeners.delete(address);
        for (const c of [...this.#conns]) if (c.a === address || c.b === address) c.closeBoth('transport closed');
      },
    };
  }

  /** Cuts `a` from `b` (both ways): frames between them are lost and dials fail. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA) for (const b of groupB) this.#cut.add(pairKey(a, b));
  }

  heal(): void {
    this.#cut.clear();
  }

  isCut(a: string, b: string): boolean {
    return this.#cut.has(pairKey(a, b));
  }

  /** Closes one random open connection (a reset). */
  resetRandomLink(): void {
    const all = [...this.#conns];
    if (all.length === 0) return;
    all[Math.floor(this.random() * all.length)]!.closeBoth('reset');
  }

  #dial(from: string, to: string, h: LinkHandlers): RawLink {
    const conn = new SimConn(this, from, to);
    this.#conns.add(conn);
    conn.hA = h;
    // Connecting takes a network round trip; a cut or absent listener fails it.
    this.schedule(this.#delay(), () => {
      const accept = this.#listeners.get(to);
      if (accept === undefined || this.isCut(from, to) || conn.closed) {
        conn.closeBoth(accept === undefined ? 'connection refused' : 'unreachable');
        return;
      }
      h.onOpen();
      conn.hB = accept(conn.sideB);
    });
    return conn.sideA;
  }

  /** Delivers `frame` from one side of `conn` to the other, with this world's faults. */
  deliver(conn: SimConn, toB: boolean, frame: string): void {
    this.stats.sent++;
    const f = this.faults;
    if (this.isCut(conn.a, conn.b) || this.random() < f.drop) {
      this.stats.dropped++;
      return;
    }
    let copies = 1;
    if (this.random() < f.duplicate) {
      copies = 2;
      this.stats.duplicated++;
    }
    for (let i = 0; i < copies; i++) {
      let text = frame;
      if (this.random() < f.corrupt && text.length > 0) {
        const at = Math.floor(this.random() * text.length);
        text = text.slice(0, at) + String.fromCharCode((text.charCodeAt(at) ^ 1) || 65) + text.slice(at + 1);
        this.stats.corrupted++;
      }
      this.schedule(this.#delay(), () => {
        if (conn.closed) return;
        const h = toB ? conn.hB : conn.hA;
        h?.onFrame(text);
      });
    }
  }

  forget(conn: SimConn): void {
    this.#conns.delete(conn);
  }

  #delay(): number {
    const f = this.faults;
    return f.minDelayMs + Math.floor(this.random() * (f.maxDelayMs - f.minDelayMs + 1));
  }
}

/** One connection: side A dialed, side B accepted. */
class SimConn {
  closed = false;
  hA: LinkHandlers | undefined;
  hB: LinkHandlers | undefined;
  readonly sideA: RawLink;
  readonly sideB: RawLink;

  constructor(
    readonly world: World,
    readonly a: string,
    readonly b: string,
  ) {
    // `end` closes after the frames in flight can have arrived (the network's longest delay).
    const end = (reason: string) => () => void world.schedule(world.faults.maxDelayMs + 1, () => this.closeBoth(reason));
    this.sideA = { send: (f) => !this.closed && world.deliver(this, true, f), close: () => this.closeBoth('closed by dialer'), end: end('closed by dialer'), buffered: 0 };
    this.sideB = { send: (f) => !this.closed && world.deliver(this, false, f), close: () => this.closeBoth('closed by acceptor'), end: end('closed by acceptor'), buffered: 0 };
  }

  closeBoth(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.world.forget(this);
    // Each side hears of it after a delay, as over a network.
    this.world.schedule(1, () => this.hA?.onClose(reason));
    this.world.schedule(1, () => this.hB?.onClose(reason));
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Lets every pending promise continuation run (microtasks drain before setImmediate). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
