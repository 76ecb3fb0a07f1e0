/**
 * One authenticated link to a peer: the handshake (challenge, hello, welcome), sealed
 * frames, and requests matched to their responses by id. A frame that fails its MAC,
 * does not parse, or does not fit its schema closes this link, and only this link.
 */
import { proofMatches, proofOf, seal, sealBinary, sessionKeyOf, unseal, unsealBinary } from './auth.js';
import { binaryHeader, CLUSTER_PROTOCOL, MAX_CHUNK_BYTES, challenge, hello, messageSchema, refused, welcome, type ClusterMessage, type GossipEntry, type Hello, type Welcome } from './messages.js';
import type { Clock, LinkHandlers, RawLink } from './transport.js';

/** Who is on the other end, as its handshake said. */
export interface PeerHello {
  readonly node: string;
  readonly address: string;
  readonly inc: number;
  /** Members it knows (dialed links only: the welcome carries them). */
  readonly members: readonly GossipEntry[];
}

/** What a link needs from the node it belongs to. */
export interface LinkOwner {
  readonly clock: Clock;
  readonly clusterKey: string | undefined;
  readonly self: { node: string; address: string; inc: number };
  nonce(): string;
  /** The members to hand a peer that just connected. */
  members(): GossipEntry[];
  /** May refuse a peer (returns why), e.g. this node dialing itself. */
  admit(peer: PeerHello): string | undefined;
  /** The link is ready. */
  ready(link: Link, peer: PeerHello): void;
  /** A request or one-way message from the peer. */
  message(link: Link, msg: ClusterMessage): void;
  closed(link: Link, reason: string): void;
  log(level: 'debug' | 'info' | 'warn', message: string, fields?: Record<string, unknown>): void;
}

interface Waiting {
  /** Called with each response; returns true when it was the last one. */
  readonly onResponse: (msg: ClusterMessage) => boolean;
  readonly reject: (e: Error) => void;
  timer: unknown;
  readonly timeoutMs: number;
}

const HANDSHAKE_MS = 5_000;

/** An error of a request: the link closed, the peer answered with an error, or no answer in time. */
export class LinkError extends Error {
  constructor(
    message: string,
    readonly code: 'closed' | 'timeout' | 'remote',
  ) {
    super(message);
  }
}

/** A link to one peer, dialed by this node (`outbound`) or accepted. */
export class Link {
  readonly outbound: boolean;
  readonly #raw: RawLink;
  readonly #owner: LinkOwner;
  #state: 'handshake' | 'ready' | 'closed' = 'handshake';
  #session: Buffer | undefined;
  #peer: PeerHello | undefined;
  #myNonce: string;
  #theirNonce = '';
  #nextId = 1;
  readonly #waiting = new Map<number, Waiting>();
  #handshakeTimer: unknown;

  private constructor(raw: RawLink | undefined, owner: LinkOwner, outbound: boolean) {
    this.#raw = raw!;
    this.#owner = owner;
    this.outbound = outbound;
    this.#myNonce = owner.nonce();
    this.#handshakeTimer = owner.clock.setTimeout(() => this.close('handshake timed out'), HANDSHAKE_MS);
  }

  /** The member this link was dialed to reach, when known (seeds are dialed by address only). */
  target: string | undefined;

  /** Dials `address` through `dial`; the owner hears `ready` once both sides are authenticated. */
  static dial(owner: LinkOwner, dial: (h: LinkHandlers) => RawLink, target?: string): Link {
    let link: Link | undefined;
    // A transport may report a failed dial before it returns.
    let closedEarly: string | undefined;
    const handlers: LinkHandlers = {
      onOpen: () => {},
      onFrame: (f) => {
        if (link !== undefined) link.#frame(f);
      },
      onBinary: (f) => {
        if (link !== undefined) link.#binary(f);
      },
      onClose: (r) => {
        if (link !== undefined) link.#closed(r);
        else closedEarly = r;
      },
    };
    const raw = dial(handlers);
    link = new Link(raw, owner, true);
    link.target = target;
    if (closedEarly !== undefined) link.#closed(closedEarly);
    return link;
  }

  /** Serves an accepted link: sends the challenge. Returns the handlers for the transport. */
  static accept(owner: LinkOwner, raw: RawLink): LinkHandlers {
    const link = new Link(raw, owner, false);
    raw.send(JSON.stringify({ t: 'challenge', protocol: CLUSTER_PROTOCOL, node: owner.self.node, nonce: link.#myNonce }));
    return { onOpen: () => {}, onFrame: (f) => link.#frame(f), onBinary: (f) => link.#binary(f), onClose: (r) => link.#closed(r) };
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  get peer(): PeerHello | undefined {
    return this.#peer;
  }

  /** Bytes queued towards the peer. */
  get buffered(): number {
    return this.#raw.buffered;
  }

  /** Sends a message that expects no answer (or answers a request: give it the request's id). */
  send(msg: ClusterMessage): void {
    this.sendText(JSON.stringify(msg));
  }

  /** Sends a message already serialized (the JSON of one message). */
  sendText(text: string): void {
    if (this.#state !== 'ready') return;
    this.#raw.send(seal(this.#session!, text));
  }

  /** True when this link carries binary frames (see {@link sendBinary}). */
  get binary(): boolean {
    return this.#raw.sendBinary !== undefined;
  }

  /**
   * Sends a message as a binary frame: `header` the JSON of the message without its bytes
   * (a `ckpt-chunk` without `data`), `payload` the bytes, unencoded. Only on a link that
   * carries binary frames ({@link binary}).
   */
  sendBinary(header: string, payload: Uint8Array): void {
    if (this.#state !== 'ready') return;
    if (this.#raw.sendBinary === undefined) throw new Error('this link carries no binary frames');
    this.#raw.sendBinary(sealBinary(this.#session!, header, payload));
  }

  /**
   * Sends a request already serialized (`text` must be the JSON of a message with this
   * `id`: the caller builds it once for several peers) and resolves with its response.
   */
  requestText<R extends ClusterMessage>(id: number, text: string, timeoutMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#expect(id, timeoutMs, (r) => {
        resolve(r as R);
        return true;
      }, reject, () => this.sendText(text));
    });
  }

  /** A fresh request id. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Sends a request and resolves with its one response. */
  request<R extends ClusterMessage>(msg: ClusterMessage & { id: number }, timeoutMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.stream(msg, timeoutMs, (r) => {
        resolve(r as R);
        return true;
      }).catch(reject);
    });
  }

  /**
   * Sends a request whose answer is several messages: `onResponse` gets each (an `error`
   * rejects) until it returns true. The deadline restarts with every message.
   */
  stream(msg: ClusterMessage & { id: number }, timeoutMs: number, onResponse: (m: ClusterMessage) => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#expect(
        msg.id,
        timeoutMs,
        (m) => {
          const last = onResponse(m);
          if (last) resolve();
          return last;
        },
        reject,
        () => this.send(msg),
      );
    });
  }

  /** Registers what to do with the responses to request `id`, then sends it. */
  #expect(id: number, timeoutMs: number, onResponse: (m: ClusterMessage) => boolean, reject: (e: Error) => void, send: () => void): void {
    if (this.#state !== 'ready') {
      reject(new LinkError('link not open', 'closed'));
      return;
    }
    const w: Waiting = {
      onResponse: (m) => {
        if (m.t === 'error') {
          reject(new LinkError(`${m.code}: ${m.message}`, 'remote'));
          return true;
        }
        try {
          return onResponse(m);
        } catch (e) {
          reject(e as Error);
          return true;
        }
      },
      reject,
      timer: undefined,
      timeoutMs,
    };
    this.#arm(id, w);
    this.#waiting.set(id, w);
    send();
  }

  close(reason: string): void {
    if (this.#state === 'closed') return;
    this.#raw.close();
    this.#closed(reason);
  }

  #arm(id: number, w: Waiting): void {
    const clock = this.#owner.clock;
    if (w.timer !== undefined) clock.clearTimeout(w.timer);
    w.timer = clock.setTimeout(() => {
      this.#waiting.delete(id);
      w.reject(new LinkError(`no answer from ${this.#peer?.node ?? 'peer'} in ${w.timeoutMs} ms`, 'timeout'));
    }, w.timeoutMs);
  }

  #closed(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#owner.clock.clearTimeout(this.#handshakeTimer);
    for (const w of this.#waiting.values()) {
      this.#owner.clock.clearTimeout(w.timer);
      w.reject(new LinkError(`link to ${this.#peer?.node ?? 'peer'} closed: ${reason}`, 'closed'));
    }
    this.#waiting.clear();
    this.#owner.closed(this, reason);
  }

  /** Refuses the peer: says why, then closes. */
  #refuse(code: string, message: string): void {
    this.#raw.send(JSON.stringify({ t: 'refused', code, message }));
    this.#owner.log('warn', 'cluster peer refused', { code, reason: message, peer: this.#peer?.node });
    if (this.#state === 'closed') return;
    // The refusal must reach the peer (it says why it cannot join) before the link drops.
    if (this.#raw.end !== undefined) this.#raw.end();
    else this.#raw.close();
    this.#closed(`refused: ${message}`);
  }

  #frame(frame: string): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'ready') {
      const text = unseal(this.#session!, frame);
      if (text === undefined) return this.#bad('a frame failed its integrity check');
      let msg: ClusterMessage;
      try {
        const parsed = messageSchema.safeParse(JSON.parse(text));
        if (!parsed.success) return this.#bad(`a malformed message: ${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.') ?? ''}`);
        msg = parsed.data;
      } catch {
        return this.#bad('a frame that is not JSON');
      }
      return this.#dispatch(msg);
    }
    this.#handshake(frame);
  }

  /**
   * A binary frame: after its MAC (over every byte) and its header's schema are checked,
   * the message of its header with the payload as `bytes`. Only answers (checkpoint chunks)
   * come this way, and only on a ready link.
   */
  #binary(frame: Uint8Array): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'ready') return this.#bad('a binary frame during the handshake');
    const opened = unsealBinary(this.#session!, frame);
    if (opened === undefined) return this.#bad('a binary frame failed its integrity check');
    if (opened.payload.length > MAX_CHUNK_BYTES) return this.#bad(`a binary frame of ${opened.payload.length} bytes (at most ${MAX_CHUNK_BYTES})`);
    let msg: ClusterMessage;
    try {
      const parsed = binaryHeader.safeParse(JSON.parse(opened.header));
      if (!parsed.success) return this.#bad(`a malformed binary frame header: ${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.') ?? ''}`);
      // A view into the frame's own (never shared) buffer.
      msg = { ...parsed.data, bytes: opened.payload as Uint8Array<ArrayBuffer> };
    } catch {
      return this.#bad('a binary frame whose header is not JSON');
    }
    this.#dispatch(msg);
  }

  /** A checked message: the answer to a request waiting for it, or the peer's for the owner. */
  #dispatch(msg: ClusterMessage): void {
    const w = 'id' in msg ? this.#waiting.get(msg.id) : undefined;
    if (w !== undefined && isResponse(msg)) {
      if (w.onResponse(msg)) {
        this.#owner.clock.clearTimeout(w.timer);
        this.#waiting.delete(msg.id);
      } else this.#arm(msg.id, w);
      return;
    }
    // A late answer to a request that timed out is dropped; anything else is the peer's.
    if (isResponse(msg)) return;
    this.#owner.message(this, msg);
  }

  #bad(what: string): void {
    this.#owner.log('warn', 'cluster link closed', { peer: this.#peer?.node, reason: what });
    this.close(what);
  }

  #handshake(frame: string): void {
    let data: unknown;
    try {
      data = JSON.parse(frame);
    } catch {
      return this.#bad('a handshake frame that is not JSON');
    }
    const r = refused.safeParse(data);
    if (r.success) {
      this.#owner.log('warn', 'refused by cluster peer', { code: r.data.code, reason: r.data.message });
      return this.close(`refused by peer (${r.data.code}): ${r.data.message}`);
    }
    const self = this.#owner.self;
    const key = this.#owner.clusterKey;
    if (this.outbound) {
      const c = challenge.safeParse(data);
      if (c.success && this.#theirNonce === '') {
        if (c.data.protocol !== CLUSTER_PROTOCOL) return this.#bad(`the peer speaks cluster protocol ${c.data.protocol}, not ${CLUSTER_PROTOCOL}`);
        this.#theirNonce = c.data.nonce;
        const h: Hello = {
          t: 'hello',
          protocol: CLUSTER_PROTOCOL,
          node: self.node,
          address: self.address,
          inc: self.inc,
          nonce: this.#myNonce,
          proof: proofOf(key, 'client', c.data.nonce, self.node, c.data.node),
        };
        this.#peer = { node: c.data.node, address: '', inc: 0, members: [] };
        this.#raw.send(JSON.stringify(h));
        return;
      }
      const w = welcome.safeParse(data);
      if (w.success && this.#theirNonce !== '') {
        const wd: Welcome = w.data;
        if (wd.node !== this.#peer!.node || !proofMatches(proofOf(key, 'server', this.#myNonce, wd.node, self.node), wd.proof)) {
          return this.#refuse('UNAUTHORIZED', 'the peer could not prove it holds the cluster key');
        }
        return this.#open(sessionKeyOf(key, this.#theirNonce, this.#myNonce), { node: wd.node, address: wd.address, inc: wd.inc, members: wd.members });
      }
      // A repeated challenge (a duplicated frame) changes nothing.
      if (c.success && c.data.nonce === this.#theirNonce) return;
      return this.#bad(`an unexpected or malformed handshake frame (${w.success ? 'welcome before challenge' : (w.error.issues[0]?.path.join('.') ?? 'invalid')})`);
    }
    const h = hello.safeParse(data);
    if (!h.success) {
      // A repeated hello (a duplicated frame) changes nothing.
      if (this.#peer !== undefined) return;
      return this.#bad(`a malformed hello (${h.error.issues[0]?.path.join('.') ?? 'invalid'}: ${h.error.issues[0]?.message ?? ''})`);
    }
    const hd = h.data;
    this.#peer = { node: hd.node, address: hd.address, inc: hd.inc, members: [] };
    if (hd.protocol !== CLUSTER_PROTOCOL) return this.#refuse('PROTOCOL_ERROR', `this node speaks cluster protocol ${CLUSTER_PROTOCOL}, not ${hd.protocol}`);
    if (!proofMatches(proofOf(key, 'client', this.#myNonce, hd.node, self.node), hd.proof)) {
      return this.#refuse('UNAUTHORIZED', 'wrong or missing cluster key');
    }
    const why = this.#owner.admit(this.#peer);
    if (why !== undefined) return this.#refuse('REFUSED', why);
    const wd: Welcome = {
      t: 'welcome',
      node: self.node,
      address: self.address,
      inc: self.inc,
      proof: proofOf(key, 'server', hd.nonce, self.node, hd.node),
      members: this.#owner.members(),
    };
    this.#raw.send(JSON.stringify(wd));
    this.#open(sessionKeyOf(key, this.#myNonce, hd.nonce), this.#peer);
  }

  #open(session: Buffer, peer: PeerHello): void {
    this.#owner.clock.clearTimeout(this.#handshakeTimer);
    this.#session = session;
    this.#peer = peer;
    this.#state = 'ready';
    this.#owner.ready(this, peer);
  }
}

const RESPONSES = new Set<ClusterMessage['t']>(['ack', 'nack', 'push-ack', 'ae-roots-r', 'ae-tree-r', 'ae-keys-r', 'ckpt-r', 'ckpt-chunk', 'bye', 'error']);

function isResponse(msg: ClusterMessage): boolean {
  return RESPONSES.has(msg.t);
}
