/**
 * ClusterNode: one KoruDelta database as a member of a cluster. This file holds what
 * users see and wires the parts, each in its own file:
 *
 * - peer-links.ts: the links to the other members (dialing, backoff, join addresses).
 *   Links are one-way for requests: this node sends its requests on links it dialed and
 *   answers on links it accepted, so two nodes hold two links and never race over one.
 * - probe.ts: membership (SWIM): members are probed, directly then through others; one
 *   that does not answer is `suspect`, then `dead` (shown as unreachable). Updates ride
 *   on probes (gossip). A member that stops gracefully announces it `left`.
 * - replication.ts: push. A write's way to a replica: the store commits it (`onApply`,
 *   below) → Replication.committed queues it → a microtask later one flush pushes all
 *   that is queued, in batches, to every reachable member → there Replication.answer
 *   stores it and acknowledges → `confirm` (what `ack: 'quorum' | 'all'` waits on)
 *   counts the acknowledgements.
 * - anti-entropy.ts: periodically, with one member at a time, state roots are compared
 *   and what differs is exchanged. This repairs any loss: dropped links, restarts,
 *   partitions. While writes flow by push and no member missed any, rounds are spaced
 *   out (see {@link FLOWING_ROUND_PERIODS}).
 * - join.ts, checkpoint-fetch.ts: a node with an empty store copies the segment files of
 *   the first member it reaches (CRC-checked chunks, resumed after a dropped link) and
 *   installs them once all arrived whole.
 * - context.ts: what the parts share; version-text.ts: versions as the JSON they travel in.
 */
import type { KoruDelta, Replicator, Version } from '@koru/delta';
import { AntiEntropy, type PeerRoot } from './anti-entropy.js';
import { randomNonce } from './auth.js';
import { replyError, type NodeContext } from './context.js';
import { SnapshotJoin } from './join.js';
import { Link, type LinkOwner, type PeerHello } from './link.js';
import { Membership, peerStateOf, type Member, type PeerState } from './membership.js';
import type { ClusterMessage, GossipEntry } from './messages.js';
import { PeerLinks } from './peer-links.js';
import { Prober } from './probe.js';
import { Replication } from './replication.js';
import { systemClock, type Clock, type Transport } from './transport.js';

/**
 * While writes reach every member by push and none missed any (Replication.flowing),
 * a periodic anti-entropy round every this many periods rather than every period.
 *
 * Why: under a steady stream of writes the state roots never match (versions are always
 * on their way), so every round walks the namespace's Merkle tree with its peer and
 * moves versions the pushes are already carrying: measured at 5,000 writes/s on three
 * members, 6–14% of each member's CPU, on machines the stream already keeps busy. A
 * missed push (a failed or unconfirmed one) ends the spacing at once; the rounds still
 * run, so a version only another member holds (its writer crashed before pushing it
 * here) still arrives, within a few periods.
 */
export const FLOWING_ROUND_PERIODS = 5;

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
  /**
   * Period of anti-entropy rounds, ms (default 1,000). While writes reach every member by
   * push and none is missing any, a round every {@link FLOWING_ROUND_PERIODS} periods.
   */
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
  /**
   * Its state root when an anti-entropy round with it (started by either side) last
   * compared roots: the root, when (ISO-8601), and whether it equalled this node's then.
   * null before any round. Quiet members holding the same versions match.
   */
  readonly lastRoot: { readonly root: string; readonly at: string; readonly matched: boolean } | null;
}


/** A database taking part in a cluster. Create with {@link ClusterNode.start}. */
export class ClusterNode implements Replicator {
  readonly #db: KoruDelta;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #nonce: () => string;
  readonly #key: string | undefined;
  readonly #log: NonNullable<ClusterOptions['log']>;
  readonly #members: Membership;
  /** Join addresses (`ClusterOptions.join`). */
  readonly #join: readonly string[];
  readonly #probeIntervalMs: number;
  readonly #antiEntropyIntervalMs: number;
  readonly #links: PeerLinks;
  readonly #prober: Prober;
  readonly #replication: Replication;
  readonly #antiEntropy: AntiEntropy;
  readonly #snapshot: SnapshotJoin;
  #timers: unknown[] = [];
  /** True while the probe and anti-entropy loops run: only while there is a member to talk to. */
  #looping = false;
  #stopped = false;
  #offApply: () => void;
  /** When the anti-entropy loop last started a round (clock ms). */
  #lastRoundAt = -Infinity;

  private constructor(o: ClusterOptions) {
    this.#db = o.db;
    const s = o.db.storage;
    this.#transport = o.transport;
    this.#clock = o.clock ?? systemClock;
    this.#nonce = o.nonce ?? randomNonce;
    this.#key = o.clusterKey === '' ? undefined : o.clusterKey;
    this.#log = o.log ?? (() => {});
    this.#members = new Membership(s.nodeId, o.address, o.incarnation ?? this.#clock.now());
    this.#join = o.join ?? [];
    this.#probeIntervalMs = o.probeIntervalMs ?? 500;
    this.#antiEntropyIntervalMs = o.antiEntropyIntervalMs ?? 1_000;
    const node = this;
    const ctx: NodeContext = {
      storage: s,
      clock: this.#clock,
      random: o.random ?? Math.random,
      members: this.#members,
      log: this.#log,
      maxClockAheadMs: o.maxClockAheadMs ?? 10 * 60 * 1000,
      get stopped() {
        return node.#stopped;
      },
    };
    const sync = (m: Member, link: Link): Promise<'equal' | number> => this.#antiEntropy.syncWith(m, link);
    this.#links = new PeerLinks(ctx, this.#transport, this.#owner);
    this.#prober = new Prober(
      ctx,
      this.#links,
      { probeIntervalMs: this.#probeIntervalMs, probeTimeoutMs: o.probeTimeoutMs ?? 250, indirectProbes: o.indirectProbes ?? 2, suspectTimeoutMs: o.suspectTimeoutMs ?? 3_000 },
      (m) => this.#note(m),
    );
    this.#replication = new Replication(ctx, this.#links, {
      ackTimeoutMs: o.ackTimeoutMs ?? 5_000,
      joining: this.#join.length > 0,
      repair: (m, link) => void sync(m, link).catch(() => {}),
    });
    this.#snapshot = new SnapshotJoin(ctx, this.#links, this.#join.length > 0, sync);
    this.#antiEntropy = new AntiEntropy(ctx, this.#links, this.#replication, this.#snapshot, this.#antiEntropyIntervalMs);
    this.#offApply = s.onApply((_current, all) => {
      // Alone, there is no one to push to: a member that comes later gets a snapshot or
      // anti-entropy, so a server nobody joined does no replication work per write.
      if (!this.#looping) return;
      this.#replication.committed(all);
    });
  }

  /** Joins (or starts) a cluster: accepts peers, contacts the `join` members, starts probing and anti-entropy. */
  static start(options: ClusterOptions): ClusterNode {
    const node = new ClusterNode(options);
    node.#transport.listen((raw) => Link.accept(node.#owner, raw));
    for (const address of node.#join) node.#links.dialSeed(address);
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
        const backlog = this.#replication.backlog(m.node);
        return {
          id: m.node,
          address: m.address,
          state: peerStateOf(m.state),
          lastSeen: m.lastSeen > 0 ? new Date(m.lastSeen).toISOString() : null,
          replicationLagMs: backlog.since === Infinity || m.state === 'left' ? 0 : Math.max(0, now - backlog.since),
          unconfirmed: backlog.versions,
          lastRoot: rootInfo(this.#antiEntropy.peerRoot(m.node)),
        };
      })
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The database's state root (see CausalStorage.stateRoot). */
  stateRoot(): string {
    return this.#db.storage.stateRoot();
  }

  /** Members not known to have left, this node included. */
  clusterSize(): number {
    return 1 + this.#members.current().length;
  }

  /**
   * Resolves once enough members hold `version` (this node counts): a majority of the
   * members not known to have left for `quorum`, all of them for `all`. A node told to
   * join that has not reached any member yet needs at least one other.
   * @throws REPLICATION_TIMEOUT after `ackTimeoutMs`, saying how many acknowledged
   */
  confirm(version: Version, ack: 'quorum' | 'all'): Promise<void> {
    return this.#replication.confirm(version, ack);
  }

  /** Runs one anti-entropy round with every reachable member now (resolves when done). */
  async syncNow(): Promise<void> {
    for (const m of this.#members.current()) {
      const link = this.#links.ready(m.node);
      if (link !== undefined) await this.#antiEntropy.syncWith(m, link).catch(() => {});
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
    await Promise.allSettled(this.#links.readyLinks().map((link) => link.request({ t: 'leave', id: link.nextId(), gossip }, 1_000)));
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

  /** True while the node has periodic work to do (some member not known to have left). */
  get active(): boolean {
    return this.#looping;
  }

  #closeAll(): void {
    this.#links.closeAll('node stopping');
    this.#replication.close();
    this.#snapshot.close();
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

  #linkReady(link: Link, peer: PeerHello): void {
    const now = this.#clock.now();
    if (!link.outbound) {
      this.#links.accepted(link, peer);
      this.#note(this.#members.heardFrom(peer.node, peer.address, peer.inc, now));
      const m = this.#members.get(peer.node);
      if (m !== undefined) this.#links.linkTo(m);
      return;
    }
    if (!this.#links.adopt(link, peer)) return;
    this.#note(this.#members.heardFrom(peer.node, peer.address, peer.inc, now));
    for (const e of peer.members) this.#note(this.#members.apply(e, now));
    // A node that joined empty fetches its checkpoint first; otherwise what this node owes
    // the peer (it missed pushes while unreachable) is repaired at once.
    if (this.#snapshot.wanted) void this.#snapshot.fetch(link);
    else if (!this.#snapshot.running && this.#replication.owes(peer.node)) void this.#antiEntropy.syncWith(this.#members.get(peer.node)!, link).catch(() => {});
  }

  #linkClosed(link: Link, reason: string): void {
    const node = this.#links.closed(link, reason);
    if (node === undefined) return;
    this.#replication.linkLost(node);
    this.#log('debug', 'cluster link closed', { peer: node, reason });
  }

  /** Logs a membership change and reacts to it. */
  #note(m: Member | undefined): void {
    if (m === undefined) return;
    this.#log('info', 'cluster member changed', { peer: m.node, address: m.address, state: peerStateOf(m.state) });
    if (m.state !== 'left') this.#wake();
    if (m.state === 'alive') this.#links.linkTo(m);
    if (m.state === 'left') {
      this.#links.close(m.node, 'member left');
      this.#replication.forget(m.node);
    }
  }

  /** Routes a request from a peer to the part that answers it. */
  #onMessage(link: Link, msg: ClusterMessage): void {
    if (link.outbound) {
      // Requests come only on links the peer dialed.
      link.close(`unexpected ${msg.t} on a link this node dialed`);
      return;
    }
    switch (msg.t) {
      case 'ping':
      case 'ping-req':
      case 'leave':
        this.#prober.answer(link, msg);
        return;
      case 'push':
        // Until its checkpoint is installed this node's store must stay empty: the
        // writer keeps the versions as owed, and anti-entropy brings them later.
        if (this.#snapshot.needed) replyError(link, msg.id, Object.assign(new Error('joining: versions are taken once the checkpoint is installed'), { code: 'UNAVAILABLE' }));
        else this.#replication.answer(link, msg);
        return;
      case 'ae-roots':
      case 'ae-tree':
      case 'ae-keys':
        this.#antiEntropy.answer(link, msg);
        return;
      case 'ckpt':
      case 'ckpt-get':
      case 'ckpt-done':
        this.#snapshot.answer(link, msg);
        return;
      default:
        link.close(`unexpected ${msg.t} request`);
    }
  }

  // ---- periodic work -----------------------------------------------------------

  /**
   * Starts the probe and anti-entropy loops if they are not running and some member is
   * known. They stop on their own once every member has left: a node alone (a plain
   * server nobody joined) runs no periodic work at all.
   */
  #wake(): void {
    if (this.#looping || this.#stopped || this.#members.current().length === 0) return;
    this.#looping = true;
    this.#every(this.#probeIntervalMs, () => this.#prober.tick());
    this.#every(this.#antiEntropyIntervalMs, () => this.#antiEntropyTick());
  }

  /** One period of the anti-entropy loop: a round, unless writes flow by push and one ran recently. */
  #antiEntropyTick(): void {
    const now = this.#clock.now();
    const interval = this.#antiEntropyIntervalMs;
    if (this.#replication.flowing(interval) && now - this.#lastRoundAt < FLOWING_ROUND_PERIODS * interval) return;
    this.#lastRoundAt = now;
    void this.#antiEntropy.tick();
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
}

/** A peer's last seen root as {@link PeerInfo.lastRoot} gives it. */
function rootInfo(r: PeerRoot | undefined): PeerInfo['lastRoot'] {
  return r === undefined ? null : { root: r.root, at: new Date(r.at).toISOString(), matched: r.matched };
}
