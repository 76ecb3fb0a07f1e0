/**
 * SWIM failure detection: each probe period one member is pinged; if it does not answer,
 * k others are asked to ping it; still nothing and it is `suspect`, and after the
 * suspicion timeout `dead` (shown as unreachable). Membership updates ride on the probes
 * and their answers (gossip), and on the `leave` a member sends when it stops.
 */
import type { NodeContext } from './context.js';
import type { Link } from './link.js';
import type { Member } from './membership.js';
import type { GossipEntry, MessageOf } from './messages.js';
import type { PeerLinks } from './peer-links.js';

/** Timing of the probes (see ClusterOptions). */
export interface ProbeOptions {
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly indirectProbes: number;
  readonly suspectTimeoutMs: number;
}

/** Probes members, answers their probes, and folds in the gossip both carry. */
export class Prober {
  readonly #ctx: NodeContext;
  readonly #links: PeerLinks;
  readonly #opts: ProbeOptions;
  readonly #note: (m: Member | undefined) => void;
  #probeOrder: string[] = [];
  #probing = false;

  /** `note` hears every membership change (a member returned by Membership, or undefined for none). */
  constructor(ctx: NodeContext, links: PeerLinks, opts: ProbeOptions, note: (m: Member | undefined) => void) {
    this.#ctx = ctx;
    this.#links = links;
    this.#opts = opts;
    this.#note = note;
  }

  /** One probe period: declares long-suspect members dead, then probes the next member (unless a probe still runs). */
  tick(): void {
    const members = this.#ctx.members;
    const now = this.#ctx.clock.now();
    for (const m of members.current()) {
      if (m.state === 'suspect' && now - m.since >= this.#opts.suspectTimeoutMs) this.#note(members.judge(m.node, 'dead', now));
    }
    if (this.#probing) return;
    if (this.#probeOrder.length === 0) {
      this.#probeOrder = members.current().map((m) => m.node);
      // A fresh random order each round (SWIM's round-robin over a shuffled list).
      for (let i = this.#probeOrder.length - 1; i > 0; i--) {
        const j = Math.floor(this.#ctx.random() * (i + 1));
        [this.#probeOrder[i], this.#probeOrder[j]] = [this.#probeOrder[j]!, this.#probeOrder[i]!];
      }
    }
    const next = this.#probeOrder.pop();
    const m = next === undefined ? undefined : members.get(next);
    if (m === undefined || m.state === 'left') return;
    this.#probing = true;
    void this.#probe(m).finally(() => (this.#probing = false));
  }

  /** Answers a peer's `ping`, `ping-req` (pings the target for it) or `leave`. */
  answer(link: Link, msg: MessageOf<'ping'> | MessageOf<'ping-req'> | MessageOf<'leave'>): void {
    const members = this.#ctx.members;
    this.#gossipIn(msg.gossip, link);
    switch (msg.t) {
      case 'ping':
        link.send({ t: 'ack', id: msg.id, gossip: members.piggyback() });
        return;
      case 'ping-req':
        void this.#pingFor(msg.target).then((ok) => link.send(ok ? { t: 'ack', id: msg.id, gossip: members.piggyback() } : { t: 'nack', id: msg.id }));
        return;
      case 'leave':
        link.send({ t: 'bye', id: msg.id });
        return;
    }
  }

  async #probe(m: Member): Promise<void> {
    const { probeTimeoutMs, probeIntervalMs, indirectProbes } = this.#opts;
    if (await this.#ping(m, probeTimeoutMs)) return;
    if (m.state === 'dead' || this.#ctx.stopped) return;
    const helpers = this.#ctx.members
      .current()
      .filter((h) => h.node !== m.node && h.state === 'alive' && this.#links.ready(h.node) !== undefined)
      .sort(() => this.#ctx.random() - 0.5)
      .slice(0, indirectProbes);
    const asked = helpers.map(async (h) => {
      const link = this.#links.ready(h.node)!;
      const r = await link.request<MessageOf<'ack'> | MessageOf<'nack'>>({ t: 'ping-req', id: link.nextId(), target: m.node, gossip: this.#gossipFor(m) }, Math.max(1, probeIntervalMs - probeTimeoutMs));
      if (r.t !== 'ack') throw new Error('nack');
      this.#gossipIn(r.gossip, link);
    });
    try {
      await Promise.any(asked);
      this.#note(this.#ctx.members.heardFrom(m.node, m.address, m.inc, this.#ctx.clock.now()));
      // Heard only indirectly: not a direct sighting, so lastSeen stays.
    } catch {
      if (!this.#ctx.stopped) this.#note(this.#ctx.members.judge(m.node, 'suspect', this.#ctx.clock.now()));
    }
  }

  /** Pings `m` directly; true when it answered in time. */
  async #ping(m: Member, timeoutMs: number): Promise<boolean> {
    const link = await this.#links.linkWithin(m, timeoutMs);
    if (link === undefined) return false;
    try {
      const r = await link.request<MessageOf<'ack'>>({ t: 'ping', id: link.nextId(), gossip: this.#gossipFor(m) }, timeoutMs);
      this.#gossipIn(r.gossip, link);
      const me = this.#ctx.members.get(m.node);
      if (me !== undefined) me.lastSeen = this.#ctx.clock.now();
      return true;
    } catch {
      return false;
    }
  }

  /** A ping asked for by another member. */
  async #pingFor(target: string): Promise<boolean> {
    const m = this.#ctx.members.get(target);
    return m !== undefined && m.state !== 'left' && (await this.#ping(m, this.#opts.probeTimeoutMs));
  }

  #gossipIn(gossip: readonly GossipEntry[], from: Link): void {
    const members = this.#ctx.members;
    const now = this.#ctx.clock.now();
    for (const e of gossip) {
      if (e.node === from.peer?.node && e.state === 'alive') this.#note(members.heardFrom(e.node, e.address, e.inc, now));
      else this.#note(members.apply(e, now));
    }
  }

  /** Gossip for a ping to `target`: what is said about it (so it can refute) and the latest updates. */
  #gossipFor(target: Member): GossipEntry[] {
    const g = this.#ctx.members.piggyback(7);
    if (target.state !== 'alive') g.push({ node: target.node, address: target.address, state: target.state, inc: target.inc });
    return g;
  }
}
