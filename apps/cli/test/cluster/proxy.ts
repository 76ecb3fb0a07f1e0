// A fault-injecting TCP proxy for the cluster tests (not a test file itself).
//
// One proxy sits in front of each member, which advertises the proxy's address, so every
// cluster link dialed to a member runs through that member's proxy. The proxies of one
// test share a FaultNet, which holds the faults by directed pair of node ids (from → to).
//
// To know which pair a connection joins, the proxy reads the WebSocket stream: the server
// side (whose proxy it is) names itself in its first text frame (the `challenge`), the
// dialing side in its first one (the `hello`). Bytes a link dialed by X to Y carries from
// client to server flow X → Y; those from server to client flow Y → X. Until the `hello`
// is read, nothing of the pair is known, so no fault applies yet (the HTTP upgrade and the
// challenge pass as they are; the hello is the first thing a fault can hold or refuse).
//
// Every connection is parsed into whole WebSocket frames in both directions (RFC 6455
// framing: client frames masked, server frames not), which is what the frame-level relay
// modes (duplicate, reorder, corrupt) need; the bytes sent on are the frames themselves,
// so with no fault the stream is forwarded unchanged. Buffers are bounded (an HTTP head of
// at most 16 KiB, one frame of at most 64 MiB: what ws accepts, a source paused while more
// than 4 MiB wait to be written), except what a one-way blackhole deliberately holds back.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { prng } from '@koru/vitest-preset/helpers';
import { expect } from 'vitest';
import { call, historyIds, peers, startMember, status, waitFor, type Member, type MemberOptions } from './support.js';

/** Frame-level faults of one direction, applied to text frames after the handshake frames. */
export interface RelayMode {
  /** Send each frame twice (both copies in one write). */
  readonly duplicate?: boolean;
  /** Hold each frame until the next one and send that one first (a lone frame goes on after 20 ms). */
  readonly reorder?: boolean;
  /** Probability (0..1) that a frame gets one byte of its payload flipped, so its MAC fails. */
  readonly corrupt?: number;
}

/** What happens to bytes a blackhole held back when it is healed. */
export type OnHeal = 'close' | 'flush';

interface PairFault {
  cut: boolean;
  blackhole: boolean;
  onHeal: OnHeal;
  delayMs: number;
  relay: RelayMode | undefined;
}

/** A corrupted frame that reached its receiver, and what became of its connection. */
export interface Corruption {
  /** The connection it went over (a number unique within the FaultNet). */
  readonly conn: number;
  readonly from: string;
  readonly to: string;
  readonly at: number;
  /** When the connection closed (undefined while open). */
  closedAt: number | undefined;
  /** Which side closed first: the receiver of the corrupted frame, its sender, or this proxy. */
  closedBy: 'receiver' | 'sender' | 'proxy' | undefined;
}

/** Counters, for assertions that a fault really happened. */
export interface FaultStats {
  /** Connections accepted by any proxy. */
  accepted: number;
  /** Connections whose dialer was identified from its hello. */
  identified: number;
  /** Connections refused (closed once identified) because their pair was cut. */
  refused: number;
  /** Connections destroyed by cut() or reset(). */
  killed: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  /** Frames held back by a blackhole. */
  heldFrames: number;
  delayedFrames: number;
}

const MAX_HEAD = 16 * 1024;
const MAX_FRAME = 64 * 1024 * 1024 + 14;
const HIGH_WATER = 4 * 1024 * 1024;
const REORDER_HOLD_MS = 20;

const pairKey = (from: string, to: string): string => `${from}>${to}`;

/** The faults of a test's proxies, by directed pair of node ids. */
export class FaultNet {
  readonly seed: number;
  readonly random: () => number;
  readonly stats: FaultStats = { accepted: 0, identified: 0, refused: 0, killed: 0, duplicated: 0, reordered: 0, corrupted: 0, heldFrames: 0, delayedFrames: 0 };
  readonly corruptions: Corruption[] = [];
  readonly #faults = new Map<string, PairFault>();
  /** @internal */ readonly conns = new Set<Conn>();
  /** @internal */ nextConnId = 1;
  readonly #proxies = new Set<FaultProxy>();

  constructor(seed = 1) {
    this.seed = seed;
    this.random = prng(seed);
  }

  /** A new proxy listening on 127.0.0.1, port chosen by the system. */
  async proxy(): Promise<FaultProxy> {
    const p = new FaultProxy(this);
    this.#proxies.add(p);
    await p.listening;
    return p;
  }

  /** Closes connections between `a` and `b` (both directions) and refuses new ones until healed. */
  cut(a: string, b: string): void {
    this.#fault(a, b).cut = true;
    this.#fault(b, a).cut = true;
    for (const c of [...this.#between(a, b)]) {
      this.stats.killed++;
      c.destroy();
    }
  }

  /**
   * Holds back every byte from `from` to `to` (a one-way drop): connections stay open,
   * nothing is forwarded in that direction. On heal the held bytes are sent on
   * (`flush`) or their connections closed (`close`, the default), so links are dialed anew.
   */
  blackhole(from: string, to: string, onHeal: OnHeal = 'close'): void {
    const f = this.#fault(from, to);
    f.blackhole = true;
    f.onHeal = onHeal;
  }

  /** Adds `ms` to every chunk from `from` to `to` (order kept). */
  delay(from: string, to: string, ms: number): void {
    this.#fault(from, to).delayMs = ms;
  }

  /** Frame-level faults from `from` to `to` (undefined: none). */
  relay(from: string, to: string, mode: RelayMode | undefined): void {
    this.#fault(from, to).relay = mode;
    if (mode?.reorder !== true) for (const c of this.#between(from, to)) c.pipeFrom(from)?.flushReorder();
  }

  /** Destroys every current connection between `a` and `b` once (with a TCP RST); returns how many. */
  reset(a: string, b: string): number {
    const victims = [...this.#between(a, b)];
    for (const c of victims) {
      this.stats.killed++;
      c.destroy(true);
    }
    return victims.length;
  }

  /** Removes every fault between `a` and `b` (both directions), or every fault at all. */
  heal(a?: string, b?: string): void {
    const healed: Array<[string, string, OnHeal]> = [];
    for (const [k, f] of this.#faults) {
      const [from, to] = k.split('>') as [string, string];
      if (a !== undefined && !((from === a && to === b) || (from === b && to === a))) continue;
      if (f.blackhole) healed.push([from, to, f.onHeal]);
      this.#faults.delete(k);
    }
    for (const c of [...this.conns]) {
      if (!c.identified) continue;
      for (const [from, to, onHeal] of healed) {
        const pipe = c.pipeFrom(from);
        if (pipe === undefined || pipe.to !== to || !pipe.holding) continue;
        if (onHeal === 'flush') pipe.release();
        else c.destroy();
      }
      c.up.flushReorder();
      c.down.flushReorder();
    }
  }

  /** Identified open connections between `a` and `b` (either dialed either way), or all of them. */
  connections(a?: string, b?: string): number {
    return a === undefined ? [...this.conns].filter((c) => c.identified).length : [...this.#between(a, b!)].length;
  }

  /** Closes every proxy and connection. */
  async close(): Promise<void> {
    for (const c of [...this.conns]) c.destroy();
    await Promise.all([...this.#proxies].map((p) => p.close()));
  }

  /** @internal */
  faultOf(from: string | undefined, to: string | undefined): PairFault | undefined {
    return from === undefined || to === undefined ? undefined : this.#faults.get(pairKey(from, to));
  }

  #fault(from: string, to: string): PairFault {
    let f = this.#faults.get(pairKey(from, to));
    if (f === undefined) {
      f = { cut: false, blackhole: false, onHeal: 'close', delayMs: 0, relay: undefined };
      this.#faults.set(pairKey(from, to), f);
    }
    return f;
  }

  *#between(a: string, b: string): Iterable<Conn> {
    for (const c of this.conns) {
      if (c.identified && ((c.dialer === a && c.owner === b) || (c.dialer === b && c.owner === a))) yield c;
    }
  }
}

/** One member's proxy. */
export class FaultProxy {
  /** The member's node id: learned from its first challenge, or set. */
  node: string | undefined;
  readonly listening: Promise<void>;
  readonly #net: FaultNet;
  readonly #server: Server;
  #port = 0;
  #target: number | undefined;
  readonly #waiting: Socket[] = [];

  /** @internal use FaultNet.proxy() */
  constructor(net: FaultNet) {
    this.#net = net;
    this.#server = createServer({ allowHalfOpen: true }, (s) => this.#accept(s));
    this.listening = new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#port = (this.#server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  get port(): number {
    return this.#port;
  }

  /** `127.0.0.1:PORT`: what the member behind it advertises. */
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** The member's port; connections that arrive before it is set wait for it. */
  get target(): number | undefined {
    return this.#target;
  }

  set target(port: number | undefined) {
    this.#target = port;
    if (port !== undefined) for (const s of this.#waiting.splice(0)) this.#open(s);
  }

  close(): Promise<void> {
    for (const s of this.#waiting.splice(0)) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.#net.stats.accepted++;
    client.on('error', () => client.destroy());
    if (this.#target === undefined) this.#waiting.push(client);
    else this.#open(client);
  }

  #open(client: Socket): void {
    if (client.destroyed) return;
    client.removeAllListeners('error');
    new Conn(this.#net, this, client, connect({ host: '127.0.0.1', port: this.#target!, allowHalfOpen: true }));
  }
}

interface FrameInfo {
  readonly opcode: number;
  readonly fin: boolean;
  /** Offset of the payload in the frame. */
  readonly head: number;
  readonly mask: Buffer | undefined;
}

/** The unmasked payload of a frame. */
function payloadOf(frame: Buffer, f: FrameInfo): Buffer {
  const p = Buffer.from(frame.subarray(f.head));
  if (f.mask !== undefined) for (let i = 0; i < p.length; i++) p[i]! ^= f.mask[i & 3]!;
  return p;
}

/** A proxied connection: client (the dialing member) ↔ server (the member behind the proxy). */
class Conn {
  readonly net: FaultNet;
  readonly proxy: FaultProxy;
  readonly client: Socket;
  readonly server: Socket;
  /** client → server: from the dialer to the owner. */
  readonly up: Pipe;
  /** server → client: from the owner to the dialer. */
  readonly down: Pipe;
  dialer: string | undefined;
  /** The server side's node id, from its challenge. */
  challenger: string | undefined;
  identified = false;
  destroyed = false;
  readonly id: number;

  constructor(net: FaultNet, proxy: FaultProxy, client: Socket, server: Socket) {
    this.net = net;
    this.proxy = proxy;
    this.client = client;
    this.server = server;
    this.id = net.nextConnId++;
    this.up = new Pipe(this, 'up', client, server);
    this.down = new Pipe(this, 'down', server, client);
    net.conns.add(this);
    for (const s of [client, server]) {
      s.on('error', () => {
        this.firstEnd ??= s === client ? 'client' : 'server';
        this.destroy();
      });
      s.on('close', () => {
        // Either socket gone for good: the other follows once what it still has to send is out.
        if (client.destroyed && server.destroyed) this.#gone();
      });
    }
  }

  get owner(): string | undefined {
    return this.proxy.node ?? this.challenger;
  }

  /** The pipe carrying bytes from `node`, if this connection joins it. */
  pipeFrom(node: string): Pipe | undefined {
    return this.dialer === node ? this.up : this.owner === node ? this.down : undefined;
  }

  /** The dialer said who it is: faults of the pair apply from now on. */
  identify(dialer: string): void {
    this.dialer = dialer;
    if (this.owner === undefined) return;
    this.identified = true;
    this.net.stats.identified++;
    if (this.net.faultOf(dialer, this.owner)?.cut === true || this.net.faultOf(this.owner, dialer)?.cut === true) {
      this.net.stats.refused++;
      this.destroy();
    }
  }

  /** Closes both sides at once (with RST when `reset`), dropping whatever is in flight. */
  destroy(reset = false): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const s of [this.client, this.server]) {
      if (s.destroyed) continue;
      try {
        if (reset && s.readyState !== 'opening') s.resetAndDestroy();
        else s.destroy();
      } catch {
        s.destroy();
      }
    }
    this.#gone();
  }

  /** Which side ended first, for corruption records. */
  firstEnd: 'client' | 'server' | undefined;

  #gone(): void {
    if (!this.net.conns.delete(this)) return;
    this.destroyed = true;
    this.up.dispose();
    this.down.dispose();
    const now = Date.now();
    for (const p of [this.up, this.down]) {
      for (const c of p.corruptions) {
        c.closedAt = now;
        // The receiver of `p` is its destination socket's member.
        const receiverSide = p === this.up ? 'server' : 'client';
        c.closedBy = this.firstEnd === undefined ? 'proxy' : this.firstEnd === receiverSide ? 'receiver' : 'sender';
      }
    }
  }
}

/** One direction of a connection: parses frames, applies the pair's faults, writes. */
class Pipe {
  readonly conn: Conn;
  readonly dir: 'up' | 'down';
  readonly src: Socket;
  readonly dst: Socket;
  readonly corruptions: Corruption[] = [];
  #chunks: Buffer[] = [];
  #len = 0;
  #head = true;
  #raw = false;
  #dataFrames = 0;
  #reorderHeld: Buffer | undefined;
  #reorderTimer: NodeJS.Timeout | undefined;
  #queue: Array<{ at: number; buf: Buffer; corrupt: boolean }> = [];
  #queuedBytes = 0;
  #lastAt = 0;
  #delayTimer: NodeJS.Timeout | undefined;
  /** Held back by a blackhole. */
  #held: Array<{ buf: Buffer; corrupt: boolean }> = [];
  #srcEnded = false;
  #disposed = false;

  constructor(conn: Conn, dir: 'up' | 'down', src: Socket, dst: Socket) {
    this.conn = conn;
    this.dir = dir;
    this.src = src;
    this.dst = dst;
    src.on('data', (d: Buffer) => this.#data(d));
    src.on('end', () => {
      conn.firstEnd ??= dir === 'up' ? 'client' : 'server';
      this.#srcEnded = true;
      this.flushReorder();
      this.#maybeEnd();
    });
    dst.on('drain', () => this.#pace());
  }

  get from(): string | undefined {
    return this.dir === 'up' ? this.conn.dialer : this.conn.owner;
  }

  get to(): string | undefined {
    return this.dir === 'up' ? this.conn.owner : this.conn.dialer;
  }

  /** True while a blackhole holds bytes of this pipe. */
  get holding(): boolean {
    return this.#held.length > 0;
  }

  #fault(): PairFault | undefined {
    return this.conn.identified ? this.conn.net.faultOf(this.from, this.to) : undefined;
  }

  #data(d: Buffer): void {
    if (this.#disposed) return;
    if (this.#raw) return this.#emit(d, false);
    this.#chunks.push(d);
    this.#len += d.length;
    for (;;) {
      if (this.#disposed) return;
      if (this.#head) {
        const all = this.#peek(this.#len);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.#len > MAX_HEAD) this.conn.destroy();
          return;
        }
        const head = this.#take(end + 4);
        this.#head = false;
        const line = head.toString('latin1', 0, Math.min(head.length, 64));
        // Anything but a WebSocket upgrade (e.g. a 503 for too many connections) passes as it is.
        if (this.dir === 'down' ? !line.startsWith('HTTP/1.1 101') : !line.startsWith('GET ')) this.#raw = true;
        this.#emit(head, false);
        if (this.#raw) {
          if (this.#len > 0) this.#emit(this.#take(this.#len), false);
          return;
        }
        continue;
      }
      if (this.#len < 2) return;
      const h = this.#peek(Math.min(this.#len, 14));
      const b1 = h[1]!;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        if (h.length < 4) return;
        len = h.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (h.length < 10) return;
        const big = h.readBigUInt64BE(2);
        if (big > BigInt(MAX_FRAME)) return this.conn.destroy();
        len = Number(big);
        at = 10;
      }
      const head = at + (masked ? 4 : 0);
      if (head + len > MAX_FRAME) return this.conn.destroy();
      if (this.#len < head + len) return;
      const frame = this.#take(head + len);
      const info: FrameInfo = { opcode: frame[0]! & 0x0f, fin: (frame[0]! & 0x80) !== 0, head, mask: masked ? frame.subarray(at, at + 4) : undefined };
      this.#frame(frame, info);
    }
  }

  #frame(frame: Buffer, f: FrameInfo): void {
    const data = f.opcode <= 2;
    if (data) this.#dataFrames++;
    const text = f.opcode === 1 && f.fin;
    if (text && this.#dataFrames === 1) {
      // The first text frame names its sender: the challenge (server) or the hello (client).
      let node: string | undefined;
      try {
        const m = JSON.parse(payloadOf(frame, f).toString('utf8')) as { t?: unknown; node?: unknown };
        if (typeof m.node === 'string' && m.t === (this.dir === 'up' ? 'hello' : 'challenge')) node = m.node;
      } catch {
        // Not a cluster handshake: no pair, no faults.
      }
      if (node !== undefined && this.dir === 'down') {
        this.conn.challenger = node;
        this.conn.proxy.node ??= node;
      }
      if (node !== undefined && this.dir === 'up') {
        this.conn.identify(node);
        if (this.conn.destroyed) return;
      }
    }
    const mode = this.#fault()?.relay;
    // The handshake frames (hello; challenge and welcome) always pass untouched.
    const handshake = this.#dataFrames <= (this.dir === 'up' ? 1 : 2);
    if (mode === undefined || handshake || !text) {
      this.flushReorder();
      return this.#emit(frame, false);
    }
    let corrupt = false;
    if (mode.corrupt !== undefined && mode.corrupt > 0 && this.conn.net.random() < mode.corrupt) {
      frame = this.#corrupt(frame, f);
      corrupt = true;
    }
    if (mode.reorder === true) {
      const held = this.#reorderHeld;
      if (held === undefined) {
        this.#reorderHeld = frame;
        this.#reorderTimer = setTimeout(() => this.flushReorder(), REORDER_HOLD_MS);
        // A corrupted frame held for reordering is recorded when it is sent.
        this.#heldCorrupt = corrupt;
        return;
      }
      const heldCorrupt = this.#heldCorrupt;
      this.#reorderHeld = undefined;
      clearTimeout(this.#reorderTimer);
      this.conn.net.stats.reordered++;
      this.#sendRelayed(frame, corrupt, mode);
      this.#sendRelayed(held, heldCorrupt, mode);
      return;
    }
    this.#sendRelayed(frame, corrupt, mode);
  }

  #heldCorrupt = false;

  #sendRelayed(frame: Buffer, corrupt: boolean, mode: RelayMode | undefined): void {
    if (mode?.duplicate === true) {
      // Both copies in one write: they arrive back to back, as a duplicating middlebox
      // (or an attacker replaying a recorded frame into its link) would deliver them.
      this.conn.net.stats.duplicated++;
      this.#emit(Buffer.concat([frame, frame]), corrupt);
    } else this.#emit(frame, corrupt);
  }

  /** Sends on a frame held for reordering. */
  flushReorder(): void {
    const held = this.#reorderHeld;
    if (held === undefined) return;
    this.#reorderHeld = undefined;
    clearTimeout(this.#reorderTimer);
    this.#sendRelayed(held, this.#heldCorrupt, this.#fault()?.relay);
  }

  /**
   * A copy of `frame` with one payload byte flipped (bit 0, and only of an ASCII byte, so
   * the text stays valid UTF-8 and the receiver's MAC check, not its UTF-8 check, catches
   * it). In a masked frame the masked byte is flipped: unmasked, the same bit differs.
   */
  #corrupt(frame: Buffer, f: FrameInfo): Buffer {
    const out = Buffer.from(frame);
    const n = out.length - f.head;
    if (n === 0) return out;
    const plain = payloadOf(frame, f);
    let i = Math.floor(this.conn.net.random() * n);
    for (let k = 0; k < n && plain[i]! >= 0x80; k++) i = (i + 1) % n;
    out[f.head + i]! ^= 0x01;
    this.conn.net.stats.corrupted++;
    return out;
  }

  /** Through the pair's delay, then its blackhole, to the destination. */
  #emit(buf: Buffer, corrupt: boolean): void {
    const ms = this.#fault()?.delayMs ?? 0;
    if (ms > 0 || this.#queue.length > 0) {
      const at = Math.max(this.#lastAt, Date.now() + ms);
      this.#lastAt = at;
      this.#queue.push({ at, buf, corrupt });
      this.#queuedBytes += buf.length;
      if (ms > 0) this.conn.net.stats.delayedFrames++;
      this.#schedule();
      this.#pace();
      return;
    }
    this.#deliver(buf, corrupt);
  }

  #schedule(): void {
    if (this.#delayTimer !== undefined || this.#queue.length === 0 || this.#disposed) return;
    this.#delayTimer = setTimeout(
      () => {
        this.#delayTimer = undefined;
        const now = Date.now();
        while (this.#queue.length > 0 && this.#queue[0]!.at <= now) {
          const q = this.#queue.shift()!;
          this.#queuedBytes -= q.buf.length;
          this.#deliver(q.buf, q.corrupt);
        }
        this.#schedule();
        this.#pace();
        this.#maybeEnd();
      },
      Math.max(0, this.#queue[0]!.at - Date.now()),
    );
  }

  #deliver(buf: Buffer, corrupt: boolean): void {
    if (this.#disposed) return;
    if (this.#fault()?.blackhole === true || this.#held.length > 0) {
      this.#held.push({ buf, corrupt });
      this.conn.net.stats.heldFrames++;
      return;
    }
    this.#write(buf, corrupt);
  }

  #write(buf: Buffer, corrupt: boolean): void {
    if (this.dst.destroyed || this.dst.writableEnded) return;
    this.dst.write(buf);
    if (corrupt && this.from !== undefined && this.to !== undefined) {
      const c: Corruption = { conn: this.conn.id, from: this.from, to: this.to, at: Date.now(), closedAt: undefined, closedBy: undefined };
      this.corruptions.push(c);
      this.conn.net.corruptions.push(c);
    }
    this.#pace();
  }

  /** Sends on what a blackhole held (it was healed with `flush`). */
  release(): void {
    for (const h of this.#held.splice(0)) this.#write(h.buf, h.corrupt);
    this.#maybeEnd();
  }

  /** Pauses the source while too much waits to be written (a blackhole's bytes do not count). */
  #pace(): void {
    if (this.#disposed) return;
    if (this.#queuedBytes + this.dst.writableLength > HIGH_WATER) this.src.pause();
    else if (this.src.isPaused()) this.src.resume();
  }

  /** The source ended: end the destination once everything before the end is out. */
  #maybeEnd(): void {
    if (!this.#srcEnded || this.#disposed || this.#queue.length > 0 || this.#held.length > 0 || this.#reorderHeld !== undefined) return;
    if (!this.dst.destroyed && !this.dst.writableEnded) this.dst.end();
  }

  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#reorderTimer);
    clearTimeout(this.#delayTimer);
    this.#queue = [];
    this.#held = [];
    this.#reorderHeld = undefined;
    this.#chunks = [];
    this.#len = 0;
  }

  /** The first `n` buffered bytes (at most what is buffered), without consuming them. */
  #peek(n: number): Buffer {
    if (this.#chunks.length === 1 || (this.#chunks[0] !== undefined && this.#chunks[0].length >= n)) return this.#chunks[0]!.subarray(0, n);
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of this.#chunks) {
      if (got >= n) break;
      parts.push(c);
      got += c.length;
    }
    return Buffer.concat(parts).subarray(0, n);
  }

  /** Removes and returns the first `n` buffered bytes. */
  #take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.#chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.#chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.#chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.#len -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

/**
 * Starts `n` members, each behind its own proxy of `net` and advertising it, the first
 * starting the cluster and the others joining it through its proxy; resolves once every
 * member sees all the others healthy.
 */
export async function startBehindProxies(net: FaultNet, n: number, options: Omit<MemberOptions, 'join' | 'advertise'> = {}): Promise<Array<Member & { readonly proxy: FaultProxy }>> {
  const members: Array<Member & { readonly proxy: FaultProxy }> = [];
  for (let i = 0; i < n; i++) {
    const proxy = await net.proxy();
    const m = await startMember({ ...options, advertise: proxy.address, ...(i > 0 ? { join: [members[0]!.address] } : {}) });
    proxy.target = m.port;
    proxy.node = m.id;
    members.push({ ...m, proxy });
  }
  await waitFor(`${n} members to see each other healthy`, async () =>
    (await Promise.all(members.map(peers))).every((ps) => ps.length === n - 1 && ps.every((p) => p.state === 'healthy')),
  );
  return members;
}

/** A version as the REST API returns it. */
export interface VersionMeta {
  readonly namespace: string;
  readonly key: string;
  readonly versionId: string;
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
  readonly value?: unknown;
}

/** Every version a test wrote (the ids its PUTs and DELETEs returned), by `ns/key`. */
export class Ledger {
  readonly ids = new Map<string, Set<string>>();

  get total(): number {
    let n = 0;
    for (const s of this.ids.values()) n += s.size;
    return n;
  }

  async put(m: Pick<Member, 'url'>, ns: string, key: string, value: unknown): Promise<VersionMeta> {
    const r = await call(m, 'PUT', `/v1/kv/${ns}/${key}`, value);
    expect(r.status, `PUT ${ns}/${key}: ${JSON.stringify(r.body)}`).toBe(200);
    return this.#record(r.body as VersionMeta);
  }

  async del(m: Pick<Member, 'url'>, ns: string, key: string): Promise<VersionMeta> {
    const r = await call(m, 'DELETE', `/v1/kv/${ns}/${key}`);
    expect(r.status, `DELETE ${ns}/${key}: ${JSON.stringify(r.body)}`).toBe(200);
    return this.#record(r.body as VersionMeta);
  }

  /** True when `m` holds every version written so far (whatever else it holds). */
  async holdsAll(m: Pick<Member, 'url'>): Promise<boolean> {
    for (const [k, want] of this.ids) {
      const [ns, key] = k.split('/') as [string, string];
      const have = new Set(await historyIds(m, ns, key));
      for (const id of want) if (!have.has(id)) return false;
    }
    return true;
  }

  #record(v: VersionMeta): VersionMeta {
    const k = `${v.namespace}/${v.key}`;
    let s = this.ids.get(k);
    if (s === undefined) this.ids.set(k, (s = new Set()));
    s.add(v.versionId);
    return v;
  }
}

/** Orders versions as the store picks the current one: by clock, then node. */
export function newer(a: VersionMeta, b: VersionMeta): boolean {
  return a.hlc !== b.hlc ? a.hlc > b.hlc : a.node > b.node;
}

/**
 * Asserts every member holds exactly the versions of `ledger` (each once, nothing else),
 * the same history of every key, and as current version the one with the highest
 * (hlc, node): GET answers its value, or 404 when it is a delete. Returns each key's
 * winner.
 */
export async function expectSameReplicas(members: ReadonlyArray<Member>, ledger: Ledger): Promise<Map<string, VersionMeta>> {
  const winners = new Map<string, VersionMeta>();
  for (const m of members) expect((await status(m)).versions, `versions stored on ${m.id}`).toBe(ledger.total);
  for (const [k, want] of ledger.ids) {
    const [ns, key] = k.split('/') as [string, string];
    let first: string[] | undefined;
    for (const m of members) {
      const h = (await call(m, 'GET', `/v1/kv/${ns}/${key}/history`)).body as VersionMeta[];
      const ids = h.map((v) => v.versionId);
      // Each version once, and exactly those written.
      expect([...ids].sort(), `history of ${k} on ${m.id}`).toEqual([...want].sort());
      if (first === undefined) first = ids;
      else expect(ids, `history order of ${k} on ${m.id}`).toEqual(first);
      const top = h.reduce((best, v) => (newer(v, best) ? v : best));
      winners.set(k, top);
      const got = await call(m, 'GET', `/v1/kv/${ns}/${key}/versions/current`);
      if (top.deleted) {
        expect(got.status, `${k} on ${m.id}: its delete won, so it stays deleted`).toBe(404);
        expect((await call(m, 'GET', `/v1/kv/${ns}/${key}`)).status).toBe(404);
      } else {
        expect(got.status, `${k} on ${m.id}`).toBe(200);
        expect(got.body.versionId, `current version of ${k} on ${m.id}`).toBe(top.versionId);
        expect((await call(m, 'GET', `/v1/kv/${ns}/${key}`)).body, `value of ${k} on ${m.id}`).toEqual(top.value);
      }
    }
  }
  return winners;
}
