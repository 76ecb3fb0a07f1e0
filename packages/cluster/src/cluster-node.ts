/**
 * ClusterNode: one KoruDelta database as a member of a cluster.
 *
 * - Membership (SWIM): each probe period one member is pinged; if it does not answer,
 *   k others are asked to ping it; still nothing and it is `suspect`, and after the
 *   suspicion timeout `dead` (shown as unreachable). Updates ride on probes (gossip).
 *   A member that stops gracefully announces it `left`.
 * - Push: every version written on this node is sent to every reachable member as soon
 *   as it commits; members answer once they stored it (which is what `ack: 'quorum' |
 *   'all'` waits for).
 * - Anti-entropy: periodically, with one member at a time, state roots are compared;
 *   when they differ, the namespaces' hash trees are walked down to the keys whose
 *   histories differ, and each side receives the versions it lacks. This repairs any
 *   loss: dropped links, restarts, partitions.
 * - Join: a node with an empty store streams a snapshot from the first member it
 *   reaches, in hash-checked chunks, and applies it only once every chunk arrived.
 *
 * Links are one-way for requests: this node sends its requests on links it dialed and
 * answers on links it accepted, so two nodes hold two links and never race over one.
 */
import { createHash } from 'node:crypto';
import {
  ReplicationTimeoutError,
  SYSTEM_NAMESPACE,
  type CausalStorage,
  type ImportedVersion,
  type KoruDelta,
  type Replicator,
  type Version,
} from '@koru/delta';
import { randomNonce } from './auth.js';
import { Link, type LinkOwner, type PeerHello } from './link.js';
import { Membership, peerStateOf, type Member, type PeerState } from './membership.js';
import type { ClusterMessage, GossipEntry, MessageOf } from './messages.js';
import { systemClock, type Clock, type Transport } from './transport.js';

/** Options of {@link ClusterNode.start}. */
export interface ClusterOptions {
  /** The database this node serves. */
  readonly db: KoruDelta;
  /** The links to other nodes. */
  readonly transport: Transport;
  /** `host:port` where other nodes reach this one. */
  readonly address: string;
  /** Members to contact first (`host:port`): any one of them is enough to join. */
  readonly join?: readonly string[];
  /** Shared secret: peers must prove they hold it (HMAC challenge–response); default none. */
  readonly clusterKey?: string;
  /** Time and timers (default: the process's). */
  readonly clock?: Clock;
  /** Random numbers in [0, 1) for probe order and helpers (default Math.random). */
  readonly random?: () => number;
  /** Fresh 32-byte hex nonces (default: crypto). */
  readonly nonce?: () => string;
  /** One probe per period, ms (default 500). */
  readonly probeIntervalMs?: number;
  /** How long a ping may take, ms (default 250). */
  readonly probeTimeoutMs?: number;
  /** Members asked to ping an unresponsive one (default 2). */
  readonly indirectProbes?: number;
  /** How long a member stays suspect before it is declared unreachable, ms (default 3,000). */
  readonly suspectTimeoutMs?: number;
  /** Period of anti-entropy rounds, ms (default 1,000). */
  readonly antiEntropyIntervalMs?: number;
  /** How long `ack: 'quorum' | 'all'` waits, ms (default 5,000). */
  readonly ackTimeoutMs?: number;
  /** Refuse replicated versions stamped further ahead of this node's clock, ms (default 10 minutes). */
  readonly maxClockAheadMs?: number;
  /** This node's incarnation (default: the clock's time at start, so a restart outranks what was said before). */
  readonly incarnation?: number;
  /** Where the node reports what happens (default: nowhere). */
  readonly log?: (level: 'debug' | 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
}

/** One member as `kdelta peers` and `GET /v1/cluster/peers` show it. */
export interface PeerInfo {
  readonly id: string;
  readonly address: string;
  readonly state: PeerState;
  /** When this node last heard from it directly (ISO-8601), null if never. */
  readonly lastSeen: string | null;
  /**
   * How far behind this node's writes it is, ms: age of the oldest version written here
   * that it has not confirmed (0 when it has them all).
   */
  readonly replicationLagMs: number;
  /** Versions written here that it has not confirmed yet. */
  readonly unconfirmed: number;
}

/** Outbound state of one member. */
interface Outbound {
  link: Link | undefined;
  /** A dial in progress. */
  dialing: Link | undefined;
  /** No new dial before this time (backoff after a failure). */
  nextDialAt: number;
  failures: number;
  /** Versions pushed (or due) and not confirmed: push id → { ids, since }. */
  readonly unconfirmed: Map<number, { readonly ids: readonly string[]; readonly since: number }>;
  /** Set when a version could not be pushed (no link): anti-entropy must repair it. */
  missedSince: number | undefined;
}

interface Waiter {
  readonly version: Version;
  readonly ack: 'quorum' | 'all';
  readonly acked: Set<string>;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  timer: unknown;
}

/** Versions per push message (or PUSH_BYTES of them, whichever first), and per snapshot chunk (or 1 MiB). */
const PUSH_BATCH = 2_000;
const PUSH_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const CHUNK_VERSIONS = 4_096;
/** A subtree with at most this many keys is compared key by key. */
const KEYS_AT_ONCE = 64;
/** Keys per version exchange request. */
const KEYS_PER_EXCHANGE = 2_000;
/** Versions in one anti-entropy answer, or about ANSWER_BYTES of them (the rest come next round). */
const VERSIONS_PER_ANSWER = 20_000;
const ANSWER_BYTES = 8 * 1024 * 1024;
/** An anti-entropy round that moved at least this many versions is followed by another at once. */
const BACK_TO_BACK_VERSIONS = 500;
/** A link holding this much unsent data gets no pushes (anti-entropy repairs later). */
const MAX_BUFFERED = 64 * 1024 * 1024;
/** Deadline of a push and of each anti-entropy request: a stalled link must not stall repair for long. */
const REQUEST_MS = 5_000;
/** Deadline between two messages of a snapshot stream. */
const STREAM_MS = 30_000;


/** A database taking part in a cluster. Create with {@link ClusterNode.start}. */
export class ClusterNode implements Replicator {
  readonly #db: KoruDelta;
  readonly #s: CausalStorage;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #nonce: () => string;
  readonly #key: string | undefined;
  readonly #opts: Required<Pick<ClusterOptions, 'probeIntervalMs' | 'probeTimeoutMs' | 'indirectProbes' | 'suspectTimeoutMs' | 'antiEntropyIntervalMs' | 'ackTimeoutMs' | 'maxClockAheadMs'>>;
  readonly #log: NonNullable<ClusterOptions['log']>;
  readonly #members: Membership;
  readonly #out = new Map<string, Outbound>();
  /** Seed links dialed before their node id is known, with the address each dialed. */
  readonly #seeds = new Map<Link, string>();
  /**
   * Join addresses not reached yet, with how often they failed. Each is dialed until it
   * answers once: a node that only ever heard from some members (its seed was cut off
   * when it started) would otherwise stay in a cluster of its own with them.
   */
  readonly #unreachedSeeds = new Map<string, number>();
  readonly #inbound = new Set<Link>();
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #join: readonly string[];
  /** Versions written here and committed, not yet pushed (sent by the next flush). */
  #outgoing: Version[] = [];
  #probeOrder: string[] = [];
  #probing = false;
  #syncing: Promise<'equal' | number> | undefined;
  /** When the last anti-entropy round found the roots equal, and this node's seq then. */
  #quiet: { readonly seq: number; readonly at: number } | undefined;
  #needSnapshot: boolean;
  #snapshotting = false;
  /** Members this node is streaming a snapshot to: no anti-entropy with them meanwhile (it would send the same versions twice). */
  readonly #servingSnapshot = new Set<string>();
  #timers: unknown[] = [];
  /** True while the probe and anti-entropy loops run: only while there is a member to talk to. */
  #looping = false;
  /** Per join address: the last reason it could not be reached (said once, not at every retry). */
  readonly #seedTrouble = new Map<string, string>();
  #stopped = false;
  #offApply: () => void;

  private constructor(o: ClusterOptions) {
    this.#db = o.db;
    this.#s = o.db.storage;
    this.#transport = o.transport;
    this.#clock = o.clock ?? systemClock;
    this.#random = o.random ?? Math.random;
    this.#nonce = o.nonce ?? randomNonce;
    this.#key = o.clusterKey === '' ? undefined : o.clusterKey;
    this.#opts = {
      probeIntervalMs: o.probeIntervalMs ?? 500,
      probeTimeoutMs: o.probeTimeoutMs ?? 250,
      indirectProbes: o.indirectProbes ?? 2,
      suspectTimeoutMs: o.suspectTimeoutMs ?? 3_000,
      antiEntropyIntervalMs: o.antiEntropyIntervalMs ?? 1_000,
      ackTimeoutMs: o.ackTimeoutMs ?? 5_000,
      maxClockAheadMs: o.maxClockAheadMs ?? 10 * 60 * 1000,
    };
    this.#log = o.log ?? (() => {});
    this.#members = new Membership(this.#s.nodeId, o.address, o.incarnation ?? this.#clock.now());
    this.#join = o.join ?? [];
    this.#needSnapshot = this.#join.length > 0 && !this.#holdsData();
    // Every version written here is pushed once committed: replicated ones are not
    // (their writer pushes them), nor the database's own records.
    const self = this.#members.self;
    this.#offApply = this.#s.onApply((_current, all) => {
      // Alone, there is no one to push to: a member that comes later gets a snapshot or
      // anti-entropy, so a server nobody joined does no replication work per write.
      if (!this.#looping) return;
      // An empty queue has no flush scheduled: the first version in schedules one.
      const queued = this.#outgoing.length;
      for (const v of all) if (v.node === self && v.namespace !== SYSTEM_NAMESPACE) this.#outgoing.push(v);
      if (queued === 0 && this.#outgoing.length > 0) queueMicrotask(() => this.#flushPushes());
    });
  }

  /** Joins (or starts) a cluster: accepts peers, contacts the `join` members, starts probing and anti-entropy. */
  static start(options: ClusterOptions): ClusterNode {
    const node = new ClusterNode(options);
    node.#transport.listen((raw) => Link.accept(node.#owner, raw));
    for (const address of node.#join) node.#dialSeed(address);
    options.db.setReplicator(node);
    return node;
  }

  /** This node's id (the database's). */
  get id(): string {
    return this.#members.self;
  }

  /** `host:port` where peers reach it. */
  get address(): string {
    return this.#members.selfAddress;
  }

  /** The other members and how they are doing, sorted by id. */
  peers(): PeerInfo[] {
    const now = this.#clock.now();
    return this.#members
      .all()
      .map((m) => {
        const out = this.#out.get(m.node);
        let oldest = out?.missedSince ?? Infinity;
        let unconfirmed = 0;
        for (const u of out?.unconfirmed.values() ?? []) {
          oldest = Math.min(oldest, u.since);
          unconfirmed += u.ids.length;
        }
        return {
          id: m.node,
          address: m.address,
          state: peerStateOf(m.state),
          lastSeen: m.lastSeen > 0 ? new Date(m.lastSeen).toISOString() : null,
          replicationLagMs: oldest === Infinity || m.state === 'left' ? 0 : Math.max(0, now - oldest),
          unconfirmed,
        };
      })
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The database's state root (see CausalStorage.stateRoot). */
  stateRoot(): string {
    return this.#s.stateRoot();
  }

  /** Members not known to have left, this node included. */
  clusterSize(): number {
    return 1 + this.#members.current().length;
  }

  /**
   * Resolves once enough members hold `version` (this node counts): a majority of the
   * members not known to have left for `quorum`, all of them for `all`.
   * @throws REPLICATION_TIMEOUT after `ackTimeoutMs`, saying how many acknowledged
   */
  confirm(version: Version, ack: 'quorum' | 'all'): Promise<void> {
    if (this.#required(ack) <= 1) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { version, ack, acked: new Set(), resolve, reject, timer: undefined };
      w.timer = this.#clock.setTimeout(() => {
        this.#dropWaiter(w);
        const size = this.clusterSize();
        const required = this.#required(ack);
        reject(
          new ReplicationTimeoutError(
            `${version.namespace}/${version.key}: ${1 + w.acked.size} of ${required} required nodes (${ack} of ${size}) acknowledged within ${this.#opts.ackTimeoutMs} ms; the write is stored on this node and will reach the others when they can be reached`,
            { details: { acked: 1 + w.acked.size, required, members: size, ack, versionId: version.versionId } },
          ),
        );
      }, this.#opts.ackTimeoutMs);
      const list = this.#waiters.get(version.versionId);
      if (list === undefined) this.#waiters.set(version.versionId, [w]);
      else list.push(w);
    });
  }

  /**
   * Nodes that must hold a write for `ack`, this one included: a majority of the members
   * not known to have left, or all of them. A node told to join that has not reached any
   * member yet does not know its cluster: it needs at least one other.
   */
  #required(ack: 'quorum' | 'all'): number {
    const size = this.clusterSize();
    const required = ack === 'all' ? size : Math.floor(size / 2) + 1;
    return size === 1 && this.#join.length > 0 ? 2 : required;
  }

  /** Runs one anti-entropy round with every reachable member now (resolves when done). */
  async syncNow(): Promise<void> {
    for (const m of this.#members.current()) {
      const link = this.#out.get(m.node)?.link;
      if (link?.ready) await this.#antiEntropyWith(m, link).catch(() => {});
    }
  }

  /**
   * Leaves the cluster: tells every reachable member, waits briefly for them to hear it,
   * then closes every link. The database stays open (its owner closes it).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#offApply();
    this.#db.setReplicator(undefined);
    const gossip: GossipEntry[] = [this.#members.leaveEntry()];
    await Promise.allSettled(
      [...this.#out.values()].map((o) => (o.link?.ready ? o.link.request({ t: 'leave', id: o.link.nextId(), gossip }, 1_000) : undefined)),
    );
    this.#closeAll();
  }

  /** Stops at once without telling anyone (as a crash would): for tests. */
  kill(): void {
    this.#stopped = true;
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#offApply();
    this.#db.setReplicator(undefined);
    this.#closeAll();
  }

  #closeAll(): void {
    for (const o of this.#out.values()) {
      o.link?.close('node stopping');
      o.dialing?.close('node stopping');
    }
    for (const l of [...this.#seeds.keys(), ...this.#inbound]) l.close('node stopping');
    for (const list of this.#waiters.values()) for (const w of list) this.#clock.clearTimeout(w.timer);
    void this.#transport.close();
  }

  // ---- links -----------------------------------------------------------------

  /** What links see of this node: identity, key and clock read when needed, and its handlers. */
  readonly #owner: LinkOwner = ((node: ClusterNode): LinkOwner => ({
    get clock() {
      return node.#clock;
    },
    get clusterKey() {
      return node.#key;
    },
    get self() {
      return { node: node.#members.self, address: node.#members.selfAddress, inc: node.#members.selfInc };
    },
    nonce: () => node.#nonce(),
    members: () => node.#members.snapshot(),
    admit: (peer) => (peer.node === node.#members.self ? 'that is this node itself' : node.#stopped ? 'this node is stopping' : undefined),
    ready: (link, peer) => node.#linkReady(link, peer),
    message: (link, msg) => node.#onMessage(link, msg),
    closed: (link, reason) => node.#linkClosed(link, reason),
    log: (level, message, fields) => node.#log(level, message, fields),
  }))(this);

  /**
   * Starts the probe and anti-entropy loops if they are not running and some member is
   * known. They stop on their own once every member has left: a node alone (a plain
   * server nobody joined) runs no periodic work at all.
   */
  #wake(): void {
    if (this.#looping || this.#stopped || this.#members.current().length === 0) return;
    this.#looping = true;
    this.#every(this.#opts.probeIntervalMs, () => this.#probeTick());
    this.#every(this.#opts.antiEntropyIntervalMs, () => void this.#antiEntropyTick());
  }

  /** True while the node has periodic work to do (some member not known to have left). */
  get active(): boolean {
    return this.#looping;
  }

  #every(ms: number, fn: () => void): void {
    const tick = (): void => {
      if (this.#stopped) return;
      if (this.#members.current().length === 0) {
        // Everyone left: the loops stop (the next member to appear restarts them).
        this.#looping = false;
        for (const t of this.#timers) this.#clock.clearTimeout(t);
        this.#timers = [];
        return;
      }
      try {
        fn();
      } catch (e) {
        this.#log('warn', 'cluster timer failed', { error: String(e) });
      }
      if (!this.#looping) return;
      this.#timers.push(this.#clock.setTimeout(tick, ms));
      // Keep the list short: only the latest handle of each loop matters.
      if (this.#timers.length > 8) this.#timers.splice(0, this.#timers.length - 8);
    };
    this.#timers.push(this.#clock.setTimeout(tick, ms));
  }

  #dialSeed(address: string): void {
    if (this.#stopped) return;
    this.#unreachedSeeds.set(address, this.#unreachedSeeds.get(address) ?? 0);
    const link = Link.dial(this.#owner, (h) => this.#transport.dial(address, h));
    this.#seeds.set(link, address);
  }

  #outbound(node: string): Outbound {
    let o = this.#out.get(node);
    if (o === undefined) {
      o = { link: undefined, dialing: undefined, nextDialAt: 0, failures: 0, unconfirmed: new Map(), missedSince: undefined };
      this.#out.set(node, o);
    }
    return o;
  }

  /**
   * A ready link to `m`, dialing one when there is none: at once for a probe (`now`),
   * otherwise after the backoff that follows failed dials.
   */
  #linkTo(m: Member, now = false): Link | undefined {
    const o = this.#outbound(m.node);
    if (o.link?.ready) return o.link;
    if (o.dialing === undefined && !this.#stopped && m.state !== 'left' && (now || this.#clock.now() >= o.nextDialAt)) {
      o.dialing = Link.dial(this.#owner, (h) => this.#transport.dial(m.address, h), m.node);
    }
    return undefined;
  }

  /** Waits up to `ms` for a ready link to `m`: dials at most once (a probe is the retry). */
  async #linkWithin(m: Member, ms: number): Promise<Link | undefined> {
    const deadline = this.#clock.now() + ms;
    for (let first = true; ; first = false) {
      const link = first ? this.#linkTo(m, true) : this.#out.get(m.node)?.link?.ready === true ? this.#out.get(m.node)!.link : undefined;
      if (link !== undefined) return link;
      const o = this.#out.get(m.node);
      if (o?.dialing === undefined || this.#clock.now() >= deadline) return undefined;
      await this.#sleep(Math.min(10, Math.max(1, deadline - this.#clock.now())));
    }
  }

  #linkReady(link: Link, peer: PeerHello): void {
    const now = this.#clock.now();
    if (!link.outbound) {
      this.#inbound.add(link);
      // It dialed in (perhaps just restarted): dial back now rather than after a backoff.
      const o = this.#outbound(peer.node);
      o.failures = 0;
      o.nextDialAt = 0;
      this.#note(this.#members.heardFrom(peer.node, peer.address, peer.inc, now));
      const m = this.#members.get(peer.node);
      if (m !== undefined) this.#linkTo(m);
      return;
    }
    const seed = this.#seeds.get(link);
    this.#seeds.delete(link);
    if (seed !== undefined && this.#unreachedSeeds.has(seed)) {
      const failures = this.#unreachedSeeds.get(seed)!;
      this.#unreachedSeeds.delete(seed);
      this.#seedTrouble.delete(seed);
      this.#log('info', 'joined the cluster', { seed, peer: peer.node, members: 1 + peer.members.filter((e) => e.node !== this.#members.self && e.state !== 'left').length, ...(failures > 0 ? { failedAttempts: failures } : {}) });
    }
    this.#unreachedSeeds.delete(peer.address);
    if (link.target !== undefined && link.target !== peer.node) {
      // The address now answers as another node: that dial did not reach its target.
      const t = this.#out.get(link.target);
      if (t?.dialing === link) t.dialing = undefined;
    }
    const o = this.#outbound(peer.node);
    if (o.dialing === link) o.dialing = undefined;
    if (o.link !== undefined && o.link !== link && o.link.ready) {
      link.close('a link to this peer is open already');
      return;
    }
    o.link = link;
    o.failures = 0;
    o.nextDialAt = 0;
    this.#note(this.#members.heardFrom(peer.node, peer.address, peer.inc, now));
    for (const e of peer.members) this.#note(this.#members.apply(e, now));
    if (this.#needSnapshot && !this.#snapshotting) void this.#fetchSnapshot(link);
    else if (o.missedSince !== undefined) void this.#antiEntropyWith(this.#members.get(peer.node)!, link).catch(() => {});
  }

  #linkClosed(link: Link, reason: string): void {
    this.#inbound.delete(link);
    const seed = this.#seeds.get(link);
    if (seed !== undefined) {
      this.#seeds.delete(link);
      // A seed that did not answer: dial it again, backing off to every 5 s, until it does.
      const failures = this.#unreachedSeeds.get(seed);
      if (!this.#stopped && failures !== undefined) {
        this.#unreachedSeeds.set(seed, failures + 1);
        const retryInMs = Math.min(5_000, 250 * 2 ** Math.min(failures, 5));
        // Said at the first failure and whenever the reason changes, not at every retry.
        const why = seedFailure(seed, reason);
        if (this.#seedTrouble.get(seed) !== why.reason) {
          this.#seedTrouble.set(seed, why.reason);
          this.#log('warn', 'cannot join the cluster yet', { seed, code: why.code, reason: why.reason, retryInMs, attempts: failures + 1 });
        } else this.#log('debug', 'cannot join the cluster yet', { seed, code: why.code, reason: why.reason, retryInMs, attempts: failures + 1 });
        this.#clock.setTimeout(() => {
          if (this.#unreachedSeeds.has(seed)) this.#dialSeed(seed);
        }, retryInMs);
      }
      return;
    }
    const node = link.outbound ? (link.target ?? link.peer?.node) : link.peer?.node;
    if (!link.outbound || node === undefined) return;
    const o = this.#out.get(node);
    if (o === undefined) return;
    if (o.dialing === link) o.dialing = undefined;
    if (o.link === link) o.link = undefined;
    if (!link.ready) {
      o.failures++;
      o.nextDialAt = this.#clock.now() + Math.min(2_000, 100 * 2 ** Math.min(o.failures, 5));
    }
    // Pushes in flight on this link may be lost: anti-entropy makes sure.
    if (o.unconfirmed.size > 0) o.missedSince ??= Math.min(...[...o.unconfirmed.values()].map((u) => u.since));
    this.#log('debug', 'cluster link closed', { peer: node, reason });
  }

  /** Logs a membership change and reacts to it. */
  #note(m: Member | undefined): void {
    if (m === undefined) return;
    this.#log('info', 'cluster member changed', { peer: m.node, address: m.address, state: peerStateOf(m.state) });
    if (m.state !== 'left') this.#wake();
    if (m.state === 'alive') this.#linkTo(m);
    if (m.state === 'left') {
      const o = this.#out.get(m.node);
      o?.link?.close('member left');
      if (o !== undefined) {
        o.unconfirmed.clear();
        o.missedSince = undefined;
      }
    }
  }

  // ---- messages --------------------------------------------------------------

  #onMessage(link: Link, msg: ClusterMessage): void {
    if (link.outbound) {
      // Requests come only on links the peer dialed.
      link.close(`unexpected ${msg.t} on a link this node dialed`);
      return;
    }
    const reply = (m: ClusterMessage): void => link.send(m);
    const fail = (id: number, e: unknown): void => {
      const code = (e as { code?: string }).code ?? 'INTERNAL';
      reply({ t: 'error', id, code: String(code).slice(0, 64), message: (e instanceof Error ? e.message : String(e)).slice(0, 2000) });
    };
    switch (msg.t) {
      case 'ping':
        this.#gossipIn(msg.gossip, link);
        reply({ t: 'ack', id: msg.id, gossip: this.#members.piggyback() });
        return;
      case 'ping-req':
        this.#gossipIn(msg.gossip, link);
        void this.#pingFor(msg.target).then((ok) => reply(ok ? { t: 'ack', id: msg.id, gossip: this.#members.piggyback() } : { t: 'nack', id: msg.id }));
        return;
      case 'leave':
        this.#gossipIn(msg.gossip, link);
        reply({ t: 'bye', id: msg.id });
        return;
      case 'push':
        void this.#applyPush(msg.versions as ImportedVersion[], link).then(
          (r) => reply({ t: 'push-ack', id: msg.id, stored: r.stored, orphans: r.orphans }),
          (e) => {
            this.#log('warn', 'refused replicated versions', { peer: link.peer?.node, error: e instanceof Error ? e.message : String(e) });
            fail(msg.id, e);
          },
        );
        return;
      case 'ae-roots': {
        const root = this.#s.stateRoot();
        reply(root === msg.root ? { t: 'ae-roots-r', id: msg.id, root } : { t: 'ae-roots-r', id: msg.id, root, namespaces: Object.fromEntries(this.#s.namespaceRoots()) });
        return;
      }
      case 'ae-tree': {
        const nodes: MessageOf<'ae-tree-r'>['nodes'] = {};
        for (const p of msg.prefixes) {
          const n = this.#s.merkleNode(msg.ns, p);
          if (n.keys <= KEYS_AT_ONCE || p.length >= 4) nodes[p] = { keys: this.#s.merkleKeys(msg.ns, p).map(([k, d]) => [k, d] as [string, string]) };
          else nodes[p] = { children: this.#s.merkleChildren(msg.ns, p).map((c) => [c.prefix, c.digest, c.keys] as [string, string, number]) };
        }
        reply({ t: 'ae-tree-r', id: msg.id, nodes });
        return;
      }
      case 'ae-keys': {
        try {
          link.sendText(this.#exchange(msg.id, msg.ns, msg.keys));
        } catch (e) {
          fail(msg.id, e);
        }
        return;
      }
      case 'snapshot': {
        const peer = link.peer!.node;
        this.#servingSnapshot.add(peer);
        void this.#sendSnapshot(link, msg.id)
          .catch((e) => fail(msg.id, e))
          .finally(() => this.#servingSnapshot.delete(peer));
        return;
      }
      default:
        link.close(`unexpected ${msg.t} request`);
    }
  }

  #gossipIn(gossip: readonly GossipEntry[], from: Link): void {
    const now = this.#clock.now();
    for (const e of gossip) {
      if (e.node === from.peer?.node && e.state === 'alive') this.#note(this.#members.heardFrom(e.node, e.address, e.inc, now));
      else this.#note(this.#members.apply(e, now));
    }
  }

  /** Gossip for a ping to `target`: what is said about it (so it can refute) and the latest updates. */
  #gossipFor(target: Member): GossipEntry[] {
    const g = this.#members.piggyback(7);
    if (target.state !== 'alive') g.push({ node: target.node, address: target.address, state: target.state, inc: target.inc });
    return g;
  }

  // ---- probes (SWIM) ------------------------------------------------------------

  #probeTick(): void {
    const now = this.#clock.now();
    for (const m of this.#members.current()) {
      if (m.state === 'suspect' && now - m.since >= this.#opts.suspectTimeoutMs) this.#note(this.#members.judge(m.node, 'dead', now));
    }
    if (this.#probing) return;
    if (this.#probeOrder.length === 0) {
      this.#probeOrder = this.#members.current().map((m) => m.node);
      // A fresh random order each round (SWIM's round-robin over a shuffled list).
      for (let i = this.#probeOrder.length - 1; i > 0; i--) {
        const j = Math.floor(this.#random() * (i + 1));
        [this.#probeOrder[i], this.#probeOrder[j]] = [this.#probeOrder[j]!, this.#probeOrder[i]!];
      }
    }
    const next = this.#probeOrder.pop();
    const m = next === undefined ? undefined : this.#members.get(next);
    if (m === undefined || m.state === 'left') return;
    this.#probing = true;
    void this.#probe(m).finally(() => (this.#probing = false));
  }

  async #probe(m: Member): Promise<void> {
    const { probeTimeoutMs, probeIntervalMs, indirectProbes } = this.#opts;
    if (await this.#ping(m, probeTimeoutMs)) return;
    if (m.state === 'dead' || this.#stopped) return;
    const helpers = this.#members
      .current()
      .filter((h) => h.node !== m.node && h.state === 'alive' && this.#out.get(h.node)?.link?.ready === true)
      .sort(() => this.#random() - 0.5)
      .slice(0, indirectProbes);
    const asked = helpers.map(async (h) => {
      const link = this.#out.get(h.node)!.link!;
      const r = await link.request<MessageOf<'ack'> | MessageOf<'nack'>>({ t: 'ping-req', id: link.nextId(), target: m.node, gossip: this.#gossipFor(m) }, Math.max(1, probeIntervalMs - probeTimeoutMs));
      if (r.t !== 'ack') throw new Error('nack');
      this.#gossipIn(r.gossip, link);
    });
    try {
      await Promise.any(asked);
      this.#note(this.#members.heardFrom(m.node, m.address, m.inc, this.#clock.now()));
      // Heard only indirectly: not a direct sighting, so lastSeen stays.
    } catch {
      if (!this.#stopped) this.#note(this.#members.judge(m.node, 'suspect', this.#clock.now()));
    }
  }

  /** Pings `m` directly; true when it answered in time. */
  async #ping(m: Member, timeoutMs: number): Promise<boolean> {
    const link = await this.#linkWithin(m, timeoutMs);
    if (link === undefined) return false;
    try {
      const r = await link.request<MessageOf<'ack'>>({ t: 'ping', id: link.nextId(), gossip: this.#gossipFor(m) }, timeoutMs);
      this.#gossipIn(r.gossip, link);
      const me = this.#members.get(m.node);
      if (me !== undefined) me.lastSeen = this.#clock.now();
      return true;
    } catch {
      return false;
    }
  }

  /** A ping asked for by another member. */
  async #pingFor(target: string): Promise<boolean> {
    const m = this.#members.get(target);
    return m !== undefined && m.state !== 'left' && (await this.#ping(m, this.#opts.probeTimeoutMs));
  }

  // ---- push ------------------------------------------------------------------

  #flushPushes(): void {
    const versions = this.#outgoing;
    this.#outgoing = [];
    if (this.#stopped || versions.length === 0) return;
    const now = this.#clock.now();
    let batches: PushBatch[] | undefined;
    for (const m of this.#members.current()) {
      const o = this.#outbound(m.node);
      const link = m.state === 'dead' ? undefined : this.#linkTo(m);
      if (link === undefined || link.buffered > MAX_BUFFERED) {
        o.missedSince ??= now;
        continue;
      }
      // Serialized once, whatever the number of peers.
      batches ??= pushBatches(textsOf(versions));
      for (const b of batches) void this.#push(m.node, o, link, b, now);
    }
  }

  /** Sends a batch to a member and records its confirmation when it comes. */
  #push(node: string, o: Outbound, link: Link, batch: PushBatch, since: number): Promise<void> {
    const id = link.nextId();
    o.unconfirmed.set(id, { ids: batch.ids, since });
    return link.requestText<MessageOf<'push-ack'>>(id, `{"t":"push","id":${id},"versions":[${batch.json}]}`, REQUEST_MS).then(
      (r) => {
        o.unconfirmed.delete(id);
        if (r.orphans > 0) o.missedSince ??= since;
        for (const vid of batch.ids) this.#acknowledged(vid, node);
      },
      () => {
        o.unconfirmed.delete(id);
        o.missedSince ??= since;
      },
    );
  }

  #acknowledged(versionId: string, node: string): void {
    const list = this.#waiters.get(versionId);
    if (list === undefined) return;
    for (const w of [...list]) {
      w.acked.add(node);
      if (1 + w.acked.size >= this.#required(w.ack)) {
        this.#clock.clearTimeout(w.timer);
        this.#dropWaiter(w);
        w.resolve();
      }
    }
  }

  #dropWaiter(w: Waiter): void {
    const list = this.#waiters.get(w.version.versionId);
    if (list === undefined) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#waiters.delete(w.version.versionId);
  }

  async #applyPush(versions: ImportedVersion[], from: Link): Promise<{ stored: number; orphans: number }> {
    const r = await this.#s.applyReplicated(versions, { maxClockAheadMs: this.#opts.maxClockAheadMs });
    if (r.orphans.length > 0) {
      // Something before them was missed: fetch it now rather than at the next round.
      const m = from.peer !== undefined ? this.#members.get(from.peer.node) : undefined;
      const link = m !== undefined ? this.#linkTo(m) : undefined;
      if (m !== undefined && link !== undefined) void this.#antiEntropyWith(m, link).catch(() => {});
    }
    return { stored: r.applied.length + r.duplicates, orphans: r.orphans.length };
  }

  // ---- anti-entropy ----------------------------------------------------------------

  async #antiEntropyTick(): Promise<void> {
    if (this.#syncing !== undefined || this.#snapshotting) return;
    const candidates = this.#members.current().filter((m) => m.state !== 'dead' && !this.#servingSnapshot.has(m.node) && this.#out.get(m.node)?.link?.ready === true);
    // Members this node owes versions to first, then any at random.
    const owed = candidates.filter((m) => this.#out.get(m.node)?.missedSince !== undefined);
    // In sync and nothing committed here since: a round every third period is enough
    // (the others' rounds, and their pushes, still come at their pace).
    const q = this.#quiet;
    if (owed.length === 0 && q !== undefined && q.seq === this.#s.seq && this.#clock.now() - q.at < 3 * this.#opts.antiEntropyIntervalMs) return;
    const pool = owed.length > 0 ? owed : candidates;
    const m = pool[Math.floor(this.#random() * pool.length)];
    if (m === undefined) return;
    const link = this.#out.get(m.node)!.link!;
    try {
      // While rounds move many versions, the next follows at once: a large difference (a
      // long partition) is worked off at the speed of the links, not one period per batch.
      // A few versions (writes still on their way as pushes) wait for the next period.
      for (let round = 0; round < 50 && link.ready && !this.#stopped; round++) {
        const result = await this.#antiEntropyWith(m, link);
        if (result === 'equal') {
          this.#quiet = { seq: this.#s.seq, at: this.#clock.now() };
          return;
        }
        this.#quiet = undefined;
        if (result < BACK_TO_BACK_VERSIONS) return;
      }
    } catch (e) {
      this.#log('debug', 'anti-entropy round failed', { peer: m.node, error: String(e) });
    }
  }

  /**
   * One anti-entropy round with `m`: compare roots; if they differ, exchange what differs.
   * Resolves `equal` when the roots matched, else how many versions were exchanged.
   */
  #antiEntropyWith(m: Member, link: Link): Promise<'equal' | number> {
    if (this.#syncing !== undefined) return this.#syncing;
    this.#syncing = (async () => {
      const o = this.#outbound(m.node);
      const started = this.#clock.now();
      const root = this.#s.stateRoot();
      const r = await link.request<MessageOf<'ae-roots-r'>>({ t: 'ae-roots', id: link.nextId(), root }, REQUEST_MS);
      let complete = true;
      let moved = 0;
      if (r.root !== root) {
        const mine = this.#s.namespaceRoots();
        const theirs = r.namespaces ?? {};
        const names = new Set([...mine.keys(), ...Object.keys(theirs)]);
        for (const ns of [...names].sort()) {
          if (mine.get(ns) === theirs[ns]) continue;
          const done = await this.#reconcile(link, ns);
          complete &&= done.complete;
          moved += done.moved;
        }
      }
      // Everything written here before the round started is now on the peer (unless an
      // answer was cut short: then the next round finishes it).
      if (complete) {
        if (o.missedSince !== undefined && o.missedSince <= started) o.missedSince = undefined;
        for (const [id, u] of o.unconfirmed) if (u.since <= started && r.root === root) o.unconfirmed.delete(id);
      }
      return r.root === root ? 'equal' : moved;
    })().finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  /**
   * Walks `ns`'s hash tree down to the keys that differ, then exchanges their versions.
   * Resolves how many versions moved, and whether the peer cut an answer short (then the
   * next round exchanges the rest).
   */
  async #reconcile(link: Link, ns: string): Promise<{ complete: boolean; moved: number }> {
    let complete = true;
    let moved = 0;
    const differing: string[] = [];
    let prefixes = [''];
    while (prefixes.length > 0) {
      const next: string[] = [];
      for (let i = 0; i < prefixes.length; i += 1024) {
        const batch = prefixes.slice(i, i + 1024);
        const r = await link.request<MessageOf<'ae-tree-r'>>({ t: 'ae-tree', id: link.nextId(), ns, prefixes: batch }, REQUEST_MS);
        for (const p of batch) {
          const node = r.nodes[p];
          if (node === undefined) continue;
          if (node.keys !== undefined) {
            const theirs = new Map(node.keys);
            for (const [k, d] of this.#s.merkleKeys(ns, p)) {
              if (theirs.get(k) !== d) differing.push(k);
              theirs.delete(k);
            }
            for (const k of theirs.keys()) differing.push(k);
          } else {
            const mine = new Map(this.#s.merkleChildren(ns, p).map((c) => [c.prefix, c.digest]));
            for (const [cp, d] of node.children ?? []) {
              if (mine.get(cp) !== d) next.push(cp);
              mine.delete(cp);
            }
            // Subtrees only this node has: the peer lacks all their keys.
            for (const cp of mine.keys()) for (const [k] of this.#s.merkleKeys(ns, cp)) differing.push(k);
          }
        }
      }
      prefixes = next;
    }
    for (let i = 0; i < differing.length; i += KEYS_PER_EXCHANGE) {
      const keys = differing.slice(i, i + KEYS_PER_EXCHANGE).map((key) => ({ key, ids: this.#s.versionIdsOf(ns, key) }));
      const r = await link.request<MessageOf<'ae-keys-r'>>({ t: 'ae-keys', id: link.nextId(), ns, keys }, REQUEST_MS);
      if (r.more === true) complete = false;
      moved += r.versions.length;
      if (r.versions.length > 0) await this.#s.applyReplicated(r.versions as ImportedVersion[], { maxClockAheadMs: this.#opts.maxClockAheadMs });
      const theirs: VersionText[] = [];
      for (const { key, ids } of r.missing) {
        for (const json of this.#s.versionsJson(ns, key, new Set(ids))) theirs.push({ id: idOfJson(json), json });
      }
      const node = link.peer!.node;
      const o = this.#outbound(node);
      moved += theirs.length;
      for (const b of pushBatches(theirs)) await this.#push(node, o, link, b, this.#clock.now());
    }
    return { complete, moved };
  }

  /**
   * The peer's side of a key exchange, as the JSON of the answer: the versions it lacks
   * (from their stored text, up to about ANSWER_BYTES; the rest come next round) and the
   * ids this node lacks.
   */
  #exchange(id: number, ns: string, keys: ReadonlyArray<{ key: string; ids: readonly string[] }>): string {
    const versions: string[] = [];
    const missing: Array<{ key: string; ids: string[] }> = [];
    let bytes = 0;
    let more = false;
    for (const { key, ids } of keys) {
      const mine = this.#s.versionIdsOf(ns, key);
      const mineSet = new Set(mine);
      const lack = ids.filter((vid) => !mineSet.has(vid));
      if (lack.length > 0) missing.push({ key, ids: lack });
      const theirs = new Set(ids);
      const give = new Set(mine.filter((vid) => !theirs.has(vid)));
      if (give.size === 0) continue;
      if (versions.length >= VERSIONS_PER_ANSWER || bytes >= ANSWER_BYTES) {
        more = true;
        continue;
      }
      for (const text of this.#s.versionsJson(ns, key, give)) {
        versions.push(text);
        bytes += text.length;
      }
    }
    return `{"t":"ae-keys-r","id":${id},"versions":[${versions.join(',')}],"missing":${JSON.stringify(missing)}${more ? ',"more":true' : ''}}`;
  }

  // ---- snapshot (join) ---------------------------------------------------------------

  /** True when the store holds a version outside its own records (found without building the hash trees). */
  #holdsData(): boolean {
    for (const _ of this.#s.committedJson()) return true;
    return false;
  }

  /**
   * Streams everything this node holds, in commit order (predecessors first), in chunks
   * of at most 1 MiB. Each chunk names the SHA-256 of its version ids and the end the
   * SHA-256 of those digests, so the receiver knows it got every version meant, in order;
   * each version's content is checked against its id when applied, and each frame by its MAC.
   */
  async #sendSnapshot(link: Link, id: number): Promise<void> {
    const digests: string[] = [];
    let batch: string[] = [];
    let ids = '';
    let bytes = 0;
    let count = 0;
    const flush = async (): Promise<void> => {
      const sha = createHash('sha256').update(ids).digest('hex');
      // The versions' JSON goes into the message as it is: no second encoding.
      link.sendText(`{"t":"snap-chunk","id":${id},"n":${digests.length},"sha":"${sha}","versions":[${batch.join(',')}]}`);
      digests.push(sha);
      batch = [];
      ids = '';
      bytes = 0;
      // Let other traffic through, and wait while the peer reads slower than this sends.
      do await this.#sleep(link.buffered > 8 * CHUNK_BYTES ? 5 : 0);
      while (link.buffered > 8 * CHUNK_BYTES && !this.#stopped);
    };
    // Built from the stored text: no value is parsed and serialized again.
    for (const text of this.#s.committedJson(1, this.#s.seq)) {
      batch.push(text);
      ids += idOfJson(text);
      bytes += text.length;
      count++;
      if (bytes >= CHUNK_BYTES || batch.length >= CHUNK_VERSIONS) await flush();
    }
    if (batch.length > 0) await flush();
    link.send({ t: 'snap-end', id, chunks: digests.length, versions: count, sha: createHash('sha256').update(digests.join('')).digest('hex') });
  }

  /** Receives a snapshot whole, checks every chunk, then applies it. */
  async #fetchSnapshot(link: Link): Promise<void> {
    this.#snapshotting = true;
    const started = this.#clock.now();
    // By chunk number: a repeated chunk (same digest) changes nothing, one out of order waits.
    const chunks = new Map<number, { versions: ImportedVersion[]; sha: string }>();
    let end: MessageOf<'snap-end'> | undefined;
    const complete = (): boolean => {
      if (end === undefined || chunks.size < end.chunks) return false;
      const digests: string[] = [];
      for (let n = 0; n < end.chunks; n++) {
        const c = chunks.get(n);
        if (c === undefined) return false;
        digests.push(c.sha);
      }
      if (chunks.size !== end.chunks || end.sha !== createHash('sha256').update(digests.join('')).digest('hex')) throw new SnapshotError('the snapshot is incomplete');
      return true;
    };
    try {
      await link.stream({ t: 'snapshot', id: link.nextId() }, STREAM_MS, (m) => {
        if (m.t === 'snap-chunk') {
          const versions = m.versions as ImportedVersion[];
          const sha = createHash('sha256').update(versions.map((v) => v.versionId).join('')).digest('hex');
          if (sha !== m.sha) throw new SnapshotError(`snapshot chunk ${m.n} does not hold the versions it names`);
          const known = chunks.get(m.n);
          if (known !== undefined && known.sha !== sha) throw new SnapshotError(`snapshot chunk ${m.n} came twice with different content`);
          chunks.set(m.n, { versions, sha });
          return complete();
        }
        if (m.t === 'snap-end') {
          end = m;
          return complete();
        }
        throw new SnapshotError(`unexpected ${m.t} in a snapshot`);
      });
      // Complete and intact: only now does any of it reach the store.
      let applied = 0;
      const expected = end!.versions;
      for (let n = 0; n < end!.chunks; n++) {
        const versions = chunks.get(n)!.versions;
        chunks.delete(n);
        applied += versions.length;
        await this.#s.applyReplicated(versions, { maxClockAheadMs: this.#opts.maxClockAheadMs });
      }
      if (applied !== expected) throw new SnapshotError(`the snapshot said ${expected} versions and held ${applied}`);
      this.#needSnapshot = false;
      this.#log('info', 'cluster snapshot applied', { peer: link.peer?.node, versions: applied, ms: this.#clock.now() - started });
    } catch (e) {
      if (e instanceof SnapshotError) link.close(e.message);
      this.#log('warn', 'cluster snapshot failed; will retry', { peer: link.peer?.node, error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.#snapshotting = false;
    }
    if (!this.#needSnapshot && link.ready) await this.#antiEntropyWith(this.#members.get(link.peer!.node)!, link).catch(() => {});
    else if (this.#needSnapshot && !this.#stopped) {
      // Retry with whichever member is reachable next.
      this.#clock.setTimeout(() => {
        for (const m of this.#members.current()) {
          const l = this.#out.get(m.node)?.link;
          if (l?.ready && this.#needSnapshot && !this.#snapshotting) void this.#fetchSnapshot(l);
        }
      }, 500);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }
}

class SnapshotError extends Error {}

/**
 * Why a join address could not be joined, from the reason its link closed: a code
 * (`UNREACHABLE`, `UNAUTHORIZED`, `NOT_A_MEMBER`, `REFUSED`, `PROTOCOL_ERROR`, `TIMEOUT`)
 * and one sentence for the log.
 */
function seedFailure(seed: string, reason: string): { code: string; reason: string } {
  const refusedBy = /^refused by peer \(([A-Z_]+)\): (.*)$/.exec(reason);
  if (refusedBy !== null) {
    const hint = refusedBy[1] === 'UNAUTHORIZED' ? ' (every member needs the same --cluster-key, or without one the same --token)' : '';
    return { code: refusedBy[1]!, reason: `${seed} refused this node: ${refusedBy[2]}${hint}` };
  }
  if (reason.startsWith('refused: ')) return { code: 'UNAUTHORIZED', reason: `${seed} was refused: ${reason.slice(9)}` };
  if (/ECONNREFUSED/.test(reason)) return { code: 'UNREACHABLE', reason: `nothing accepts connections at ${seed} (connection refused)` };
  if (/ENOTFOUND|EAI_AGAIN/.test(reason)) return { code: 'UNREACHABLE', reason: `cannot resolve the host of ${seed}` };
  if (/EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|EPIPE/.test(reason)) return { code: 'UNREACHABLE', reason: `cannot reach ${seed} (${reason})` };
  const status = /Unexpected server response: (\d+)/.exec(reason);
  if (status !== null) return { code: 'NOT_A_MEMBER', reason: `${seed} is not a KoruDelta cluster member (it answered HTTP ${status[1]} to a cluster link)` };
  if (/timed out/i.test(reason)) return { code: 'TIMEOUT', reason: `${seed} did not complete the cluster handshake in time (${reason}); is it a KoruDelta server?` };
  if (/protocol/.test(reason)) return { code: 'PROTOCOL_ERROR', reason: `${seed}: ${reason}` };
  return { code: 'UNREACHABLE', reason: `${seed}: ${reason}` };
}

/** Versions ready to push: their ids and their JSON, comma-separated. */
interface PushBatch {
  readonly ids: readonly string[];
  readonly json: string;
}

/** A version's JSON with its id. */
interface VersionText {
  readonly id: string;
  readonly json: string;
}

/** The versionId in a version's JSON as storage writes it (`"versionId":"<64 hex>"`). */
function idOfJson(json: string): string {
  const at = json.indexOf('"versionId":"') + 13;
  return json.slice(at, at + 64);
}

/** The JSON of versions to push. */
function textsOf(versions: readonly Version[]): VersionText[] {
  return versions.map((v) => ({ id: v.versionId, json: JSON.stringify(v) }));
}

/** Splits versions into push messages of at most PUSH_BATCH versions or about PUSH_BYTES each. */
function pushBatches(versions: readonly VersionText[]): PushBatch[] {
  const out: PushBatch[] = [];
  let ids: string[] = [];
  let parts: string[] = [];
  let bytes = 0;
  for (const v of versions) {
    if (parts.length > 0 && (parts.length >= PUSH_BATCH || bytes + v.json.length > PUSH_BYTES)) {
      out.push({ ids, json: parts.join(',') });
      ids = [];
      parts = [];
      bytes = 0;
    }
    ids.push(v.id);
    parts.push(v.json);
    bytes += v.json.length;
  }
  if (parts.length > 0) out.push({ ids, json: parts.join(',') });
  return out;
}
