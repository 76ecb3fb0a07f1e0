/**
 * SWIM-style membership state: who is in the cluster, how each member is doing, and the
 * updates to spread by piggybacking them on probes.
 *
 * Precedence of updates about one member (SWIM): a higher incarnation wins; at the same
 * incarnation `left` > `dead` > `suspect` > `alive`. Only the member itself raises its
 * incarnation, to refute a suspicion about it, so a live member can always clear its
 * name; `left` is final for that incarnation. A restarted node starts with a fresh,
 * higher incarnation (its start time), so it comes back even after having left.
 */
import type { GossipEntry, GossipState } from './messages.js';

/** How a member looks to users. */
export type PeerState = 'healthy' | 'suspect' | 'unreachable' | 'left';

/** What users see of a state. */
export function peerStateOf(state: GossipState): PeerState {
  return state === 'alive' ? 'healthy' : state === 'dead' ? 'unreachable' : state;
}

const RANK: Readonly<Record<GossipState, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/** One known member (not this node). */
export interface Member {
  readonly node: string;
  address: string;
  state: GossipState;
  inc: number;
  /** When this node last heard from it directly (ms), 0 if never. */
  lastSeen: number;
  /** When it entered its current state (ms). */
  since: number;
}

/** True when `next` should replace what is known as `cur`. */
export function overrides(next: Pick<GossipEntry, 'state' | 'inc'>, cur: Pick<GossipEntry, 'state' | 'inc'>): boolean {
  if (next.inc !== cur.inc) return next.inc > cur.inc;
  return RANK[next.state] > RANK[cur.state];
}

/** The members and the updates about them still being spread. */
export class Membership {
  readonly self: string;
  selfAddress: string;
  selfInc: number;
  readonly #members = new Map<string, Member>();
  /** Updates to piggyback, with how many times each was sent. */
  readonly #updates = new Map<string, { entry: GossipEntry; sent: number }>();

  constructor(self: string, selfAddress: string, selfInc: number) {
    this.self = self;
    this.selfAddress = selfAddress;
    this.selfInc = selfInc;
  }

  get(node: string): Member | undefined {
    return this.#members.get(node);
  }

  /** Every known member, this node excluded. */
  all(): Member[] {
    return [...this.#members.values()];
  }

  /** Members not known to have left. */
  current(): Member[] {
    return this.all().filter((m) => m.state !== 'left');
  }

  /** This node's own entry (always spread first: it is how others learn this node is alive). */
  selfEntry(): GossipEntry {
    return { node: this.self, address: this.selfAddress, state: 'alive', inc: this.selfInc };
  }

  /**
   * Folds in an update heard from anyone. An update about this node that suspects it,
   * or says it is dead, is refuted by raising the incarnation. Returns the member when
   * its state changed.
   */
  apply(e: GossipEntry, now: number): Member | undefined {
    if (e.node === this.self) {
      if (e.state !== 'alive' && e.state !== 'left' && e.inc >= this.selfInc) {
        this.selfInc = e.inc + 1;
        this.#spread(this.selfEntry());
      }
      return undefined;
    }
    const cur = this.#members.get(e.node);
    if (cur === undefined) {
      const m: Member = { node: e.node, address: e.address, state: e.state, inc: e.inc, lastSeen: 0, since: now };
      this.#members.set(e.node, m);
      this.#spread(e);
      return m;
    }
    if (!overrides(e, cur)) return undefined;
    const changed = cur.state !== e.state;
    cur.inc = e.inc;
    cur.address = e.address;
    if (changed) {
      cur.state = e.state;
      cur.since = now;
    }
    this.#spread(e);
    return changed ? cur : undefined;
  }

  /**
   * Records direct contact (a handshake or an answered probe) with what the member says of
   * itself. Returns the member when its state changed.
   */
  heardFrom(node: string, address: string, inc: number, now: number): Member | undefined {
    const changed = this.apply({ node, address, state: 'alive', inc }, now);
    const m = this.#members.get(node);
    if (m !== undefined) {
      m.lastSeen = now;
      // Reachable now, whatever gossip said at this incarnation: say so with the member's
      // own word at a fresh incarnation once it refutes; until then, trust direct contact.
      if (m.state === 'suspect' || m.state === 'dead') {
        m.state = 'alive';
        m.since = now;
        return m;
      }
    }
    return changed;
  }

  /** This node's own judgement of a member (suspect, dead), spread as gossip. */
  judge(node: string, state: 'suspect' | 'dead', now: number): Member | undefined {
    const m = this.#members.get(node);
    if (m === undefined || m.state === 'left' || RANK[m.state] >= RANK[state]) return undefined;
    return this.apply({ node, address: m.address, state, inc: m.inc }, now);
  }

  /** Up to `max` updates to piggyback on a message, this node's own entry first. */
  piggyback(max = 8): GossipEntry[] {
    const out: GossipEntry[] = [this.selfEntry()];
    // Each update is sent about 3·log2(n + 1) times, then dropped (SWIM's λ log n).
    const limit = 3 * Math.ceil(Math.log2(this.#members.size + 2));
    const byFewest = [...this.#updates.values()].sort((a, b) => a.sent - b.sent);
    for (const u of byFewest) {
      if (out.length >= max) break;
      if (u.entry.node === this.self) continue;
      out.push(u.entry);
      if (++u.sent >= limit) this.#updates.delete(u.entry.node);
    }
    return out;
  }

  /** Everything known, for a node that just joined (this node included). */
  snapshot(): GossipEntry[] {
    return [this.selfEntry(), ...this.all().map((m) => ({ node: m.node, address: m.address, state: m.state, inc: m.inc }))];
  }

  /** Marks this node as leaving: its `left` entry, at its current incarnation. */
  leaveEntry(): GossipEntry {
    return { node: this.self, address: this.selfAddress, state: 'left', inc: this.selfInc };
  }

  #spread(e: GossipEntry): void {
    this.#updates.set(e.node, { entry: e, sent: 0 });
  }
}
