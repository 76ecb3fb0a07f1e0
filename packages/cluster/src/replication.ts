/**
 * Push replication: every version written on this node is sent to every reachable
 * member as soon as it commits, in batches; members answer once they stored it, which is
 * what `ack: 'quorum' | 'all'` waits for. What could not be pushed, or was not
 * confirmed, is remembered per member as a debt that anti-entropy settles.
 */
import { ReplicationTimeoutError, SYSTEM_NAMESPACE, type ImportedVersion, type Version } from '@koru/delta';
import { REQUEST_MS, replyError, type NodeContext } from './context.js';
import type { Link } from './link.js';
import type { Member } from './membership.js';
import type { MessageOf } from './messages.js';
import type { PeerLinks } from './peer-links.js';
import { textsOf, type VersionText } from './version-text.js';

/** Versions per push message (or PUSH_BYTES of them, whichever first). */
const PUSH_BATCH = 2_000;
const PUSH_BYTES = 4 * 1024 * 1024;
/** A link holding this much unsent data gets no pushes (anti-entropy repairs later). */
const MAX_BUFFERED = 64 * 1024 * 1024;

/** Versions ready to push: their ids and their JSON, comma-separated. */
export interface PushBatch {
  readonly ids: readonly string[];
  readonly json: string;
}

/** What one member has not confirmed. */
interface Debt {
  /** Versions pushed (or due) and not confirmed: push id → { ids, since }. */
  readonly unconfirmed: Map<number, { readonly ids: readonly string[]; readonly since: number }>;
  /** Set when a version could not be pushed (no link): anti-entropy must repair it. */
  missedSince: number | undefined;
}

/** A `confirm` waiting for acknowledgements. */
interface Waiter {
  readonly version: Version;
  readonly ack: 'quorum' | 'all';
  readonly acked: Set<string>;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  timer: unknown;
}

/** What Replication needs besides the node's context. */
export interface ReplicationOptions {
  /** How long `confirm` waits, ms. */
  readonly ackTimeoutMs: number;
  /** True when the node was told members to join (alone, it does not know its cluster yet). */
  readonly joining: boolean;
  /** Starts a repair with `m` at once: pushed versions arrived whose predecessors are missing here. */
  readonly repair: (m: Member, link: Link) => void;
}

/** Pushes this node's writes, stores the ones pushed to it, and counts acknowledgements. */
export class Replication {
  readonly #ctx: NodeContext;
  readonly #links: PeerLinks;
  readonly #opts: ReplicationOptions;
  /** Versions written here and committed, not yet pushed (sent by the next flush). */
  #outgoing: Version[] = [];
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #debts = new Map<string, Debt>();
  /** When this node last pushed its writes, and last stored a peer's push (clock ms). */
  #lastPushedAt = -Infinity;
  #lastReceivedAt = -Infinity;

  constructor(ctx: NodeContext, links: PeerLinks, opts: ReplicationOptions) {
    this.#ctx = ctx;
    this.#links = links;
    this.#opts = opts;
  }

  /**
   * Versions just committed to the store: those written here are pushed (replicated ones
   * are not: their writer pushes them; nor the database's own records).
   */
  committed(all: readonly Version[]): void {
    const self = this.#ctx.members.self;
    // An empty queue has no flush scheduled: the first version in schedules one.
    const queued = this.#outgoing.length;
    for (const v of all) if (v.node === self && v.namespace !== SYSTEM_NAMESPACE) this.#outgoing.push(v);
    if (queued === 0 && this.#outgoing.length > 0) queueMicrotask(() => this.#flush());
  }

  /**
   * Resolves once enough members hold `version` (this node counts): see ClusterNode.confirm.
   * @throws REPLICATION_TIMEOUT after `ackTimeoutMs`, saying how many acknowledged
   */
  confirm(version: Version, ack: 'quorum' | 'all'): Promise<void> {
    if (this.#required(ack) <= 1) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { version, ack, acked: new Set(), resolve, reject, timer: undefined };
      w.timer = this.#ctx.clock.setTimeout(() => {
        this.#dropWaiter(w);
        const size = this.#clusterSize();
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

  /** Sends a batch to a member and records its confirmation when it comes. */
  push(node: string, link: Link, batch: PushBatch, since: number): Promise<void> {
    const o = this.#debt(node);
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

  /** Stores the versions of a peer's `push` and answers how many are stored. */
  answer(link: Link, msg: MessageOf<'push'>): void {
    this.#lastReceivedAt = this.#ctx.clock.now();
    void this.#receive(msg.versions as ImportedVersion[], link).then(
      (r) => link.send({ t: 'push-ack', id: msg.id, stored: r.stored, orphans: r.orphans }),
      (e) => {
        this.#ctx.log('warn', 'refused replicated versions', { peer: link.peer?.node, error: e instanceof Error ? e.message : String(e) });
        replyError(link, msg.id, e);
      },
    );
  }

  // ---- debts -------------------------------------------------------------------

  /**
   * True while writes reach the members by push and none is missing any: this node
   * pushed its writes, or stored a peer's push, within the last `windowMs`; no member
   * missed a push; and no push has waited longer than `windowMs` for its confirmation.
   * Then anti-entropy rounds can be spaced out (see ClusterNode): their roots cannot
   * match while writes are on their way, and what they would exchange is what the
   * pushes carry anyway.
   */
  flowing(windowMs: number): boolean {
    const now = this.#ctx.clock.now();
    if (now - Math.max(this.#lastPushedAt, this.#lastReceivedAt) > windowMs) return false;
    for (const o of this.#debts.values()) {
      if (o.missedSince !== undefined) return false;
      // Push ids grow with time, and a Map keeps insertion order: the first is the oldest.
      for (const u of o.unconfirmed.values()) {
        if (now - u.since > windowMs) return false;
        break;
      }
    }
    return true;
  }

  /** True when `node` missed versions that anti-entropy must bring it. */
  owes(node: string): boolean {
    return this.#debts.get(node)?.missedSince !== undefined;
  }

  /** What `node` has not confirmed: how many versions, and since when (Infinity when none). */
  backlog(node: string): { readonly since: number; readonly versions: number } {
    const o = this.#debts.get(node);
    let since = o?.missedSince ?? Infinity;
    let versions = 0;
    for (const u of o?.unconfirmed.values() ?? []) {
      since = Math.min(since, u.since);
      versions += u.ids.length;
    }
    return { since, versions };
  }

  /** The outbound link to `node` closed: pushes in flight on it may be lost, so anti-entropy makes sure. */
  linkLost(node: string): void {
    const o = this.#debts.get(node);
    if (o !== undefined && o.unconfirmed.size > 0) o.missedSince ??= Math.min(...[...o.unconfirmed.values()].map((u) => u.since));
  }

  /** `node` left: nothing is owed to it any more. */
  forget(node: string): void {
    const o = this.#debts.get(node);
    if (o !== undefined) {
      o.unconfirmed.clear();
      o.missedSince = undefined;
    }
  }

  /**
   * An anti-entropy round with `node` that started at `started` completed: everything
   * written here before then is on the peer. Unconfirmed pushes are settled only when the
   * roots matched (`equal`): otherwise versions may still differ.
   */
  settled(node: string, started: number, equal: boolean): void {
    const o = this.#debt(node);
    if (o.missedSince !== undefined && o.missedSince <= started) o.missedSince = undefined;
    for (const [id, u] of o.unconfirmed) if (u.since <= started && equal) o.unconfirmed.delete(id);
  }

  /** Stops every `confirm` timer (the node is stopping). */
  close(): void {
    for (const list of this.#waiters.values()) for (const w of list) this.#ctx.clock.clearTimeout(w.timer);
  }

  // ---- internals ----------------------------------------------------------------

  #flush(): void {
    const versions = this.#outgoing;
    this.#outgoing = [];
    if (this.#ctx.stopped || versions.length === 0) return;
    const now = this.#ctx.clock.now();
    let batches: PushBatch[] | undefined;
    for (const m of this.#ctx.members.current()) {
      const o = this.#debt(m.node);
      const link = m.state === 'dead' ? undefined : this.#links.linkTo(m);
      if (link === undefined || link.buffered > MAX_BUFFERED) {
        o.missedSince ??= now;
        continue;
      }
      // Serialized once, whatever the number of peers.
      batches ??= pushBatches(textsOf(versions));
      for (const b of batches) void this.push(m.node, link, b, now);
      this.#lastPushedAt = now;
    }
  }

  async #receive(versions: ImportedVersion[], from: Link): Promise<{ stored: number; orphans: number }> {
    const r = await this.#ctx.storage.applyReplicated(versions, { maxClockAheadMs: this.#ctx.maxClockAheadMs });
    if (r.orphans.length > 0) {
      // Something before them was missed: fetch it now rather than at the next round.
      const m = from.peer !== undefined ? this.#ctx.members.get(from.peer.node) : undefined;
      const link = m !== undefined ? this.#links.linkTo(m) : undefined;
      if (m !== undefined && link !== undefined) this.#opts.repair(m, link);
    }
    return { stored: r.applied.length + r.duplicates, orphans: r.orphans.length };
  }

  #acknowledged(versionId: string, node: string): void {
    const list = this.#waiters.get(versionId);
    if (list === undefined) return;
    for (const w of [...list]) {
      w.acked.add(node);
      if (1 + w.acked.size >= this.#required(w.ack)) {
        this.#ctx.clock.clearTimeout(w.timer);
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

  /**
   * Nodes that must hold a write for `ack`, this one included: a majority of the members
   * not known to have left, or all of them. A node told to join that has not reached any
   * member yet does not know its cluster: it needs at least one other.
   */
  #required(ack: 'quorum' | 'all'): number {
    const size = this.#clusterSize();
    const required = ack === 'all' ? size : Math.floor(size / 2) + 1;
    return size === 1 && this.#opts.joining ? 2 : required;
  }

  /** Members not known to have left, this node included. */
  #clusterSize(): number {
    return 1 + this.#ctx.members.current().length;
  }

  #debt(node: string): Debt {
    let o = this.#debts.get(node);
    if (o === undefined) {
      o = { unconfirmed: new Map(), missedSince: undefined };
      this.#debts.set(node, o);
    }
    return o;
  }
}

/** Splits versions into push messages of at most PUSH_BATCH versions or about PUSH_BYTES each. */
export function pushBatches(versions: readonly VersionText[]): PushBatch[] {
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
