/**
 * A node's links to its peers: one outbound link per member, dialed on demand and again
 * after a backoff when a dial fails; the links peers dialed in; and the join addresses
 * (seeds), each dialed until it answers once.
 *
 * Links are one-way for requests: a node sends its requests on links it dialed and
 * answers on links it accepted, so two nodes hold two links and never race over one.
 */
import { sleep, type NodeContext } from './context.js';
import { Link, type LinkOwner, type PeerHello } from './link.js';
import type { Member } from './membership.js';
import type { Transport } from './transport.js';

/** Outbound state of one member. */
interface Outbound {
  link: Link | undefined;
  /** A dial in progress. */
  dialing: Link | undefined;
  /** No new dial before this time (backoff after a failure). */
  nextDialAt: number;
  failures: number;
}

/** The links of one node, and the dialing that keeps them up. */
export class PeerLinks {
  readonly #ctx: NodeContext;
  readonly #transport: Transport;
  readonly #owner: LinkOwner;
  readonly #out = new Map<string, Outbound>();
  /** Seed links dialed before their node id is known, with the address each dialed. */
  readonly #seeds = new Map<Link, string>();
  /**
   * Join addresses not reached yet, with how often they failed. Each is dialed until it
   * answers once: a node that only ever heard from some members (its seed was cut off
   * when it started) would otherwise stay in a cluster of its own with them.
   */
  readonly #unreachedSeeds = new Map<string, number>();
  /** Per join address: the last reason it could not be reached (said once, not at every retry). */
  readonly #seedTrouble = new Map<string, string>();
  readonly #inbound = new Set<Link>();

  /** `owner` is what every link of this node sees of it (its handlers among them). */
  constructor(ctx: NodeContext, transport: Transport, owner: LinkOwner) {
    this.#ctx = ctx;
    this.#transport = transport;
    this.#owner = owner;
  }

  /** Dials a join address (again, until it answers once). */
  dialSeed(address: string): void {
    if (this.#ctx.stopped) return;
    this.#unreachedSeeds.set(address, this.#unreachedSeeds.get(address) ?? 0);
    const link = Link.dial(this.#owner, (h) => this.#transport.dial(address, h));
    this.#seeds.set(link, address);
  }

  /** The ready link to `node`, if there is one (dials nothing). */
  ready(node: string): Link | undefined {
    const link = this.#out.get(node)?.link;
    return link?.ready === true ? link : undefined;
  }

  /** Every ready outbound link. */
  readyLinks(): Link[] {
    const out: Link[] = [];
    for (const o of this.#out.values()) if (o.link?.ready) out.push(o.link);
    return out;
  }

  /**
   * A ready link to `m`, dialing one when there is none: at once for a probe (`now`),
   * otherwise after the backoff that follows failed dials.
   */
  linkTo(m: Member, now = false): Link | undefined {
    const o = this.#outbound(m.node);
    if (o.link?.ready) return o.link;
    if (o.dialing === undefined && !this.#ctx.stopped && m.state !== 'left' && (now || this.#ctx.clock.now() >= o.nextDialAt)) {
      o.dialing = Link.dial(this.#owner, (h) => this.#transport.dial(m.address, h), m.node);
    }
    return undefined;
  }

  /** Waits up to `ms` for a ready link to `m`: dials at most once (a probe is the retry). */
  async linkWithin(m: Member, ms: number): Promise<Link | undefined> {
    const clock = this.#ctx.clock;
    const deadline = clock.now() + ms;
    for (let first = true; ; first = false) {
      const link = first ? this.linkTo(m, true) : this.#out.get(m.node)?.link?.ready === true ? this.#out.get(m.node)!.link : undefined;
      if (link !== undefined) return link;
      const o = this.#out.get(m.node);
      if (o?.dialing === undefined || clock.now() >= deadline) return undefined;
      await sleep(clock, Math.min(10, Math.max(1, deadline - clock.now())));
    }
  }

  /** An accepted link is ready: the peer dialed in (perhaps just restarted), so dial back now rather than after a backoff. */
  accepted(link: Link, peer: PeerHello): void {
    this.#inbound.add(link);
    const o = this.#outbound(peer.node);
    o.failures = 0;
    o.nextDialAt = 0;
  }

  /**
   * A dialed link is ready: it becomes the link to its peer, unless one is open already
   * (then it is closed and this returns false).
   */
  adopt(link: Link, peer: PeerHello): boolean {
    const seed = this.#seeds.get(link);
    this.#seeds.delete(link);
    if (seed !== undefined && this.#unreachedSeeds.has(seed)) {
      const failures = this.#unreachedSeeds.get(seed)!;
      this.#unreachedSeeds.delete(seed);
      this.#seedTrouble.delete(seed);
      const self = this.#ctx.members.self;
      this.#ctx.log('info', 'joined the cluster', { seed, peer: peer.node, members: 1 + peer.members.filter((e) => e.node !== self && e.state !== 'left').length, ...(failures > 0 ? { failedAttempts: failures } : {}) });
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
      return false;
    }
    o.link = link;
    o.failures = 0;
    o.nextDialAt = 0;
    return true;
  }

  /**
   * A link closed. A seed that did not answer is dialed again later; a dial that failed
   * backs off. Returns the member whose outbound link (or dial) it was, if it was one.
   */
  closed(link: Link, reason: string): string | undefined {
    this.#inbound.delete(link);
    const seed = this.#seeds.get(link);
    if (seed !== undefined) {
      this.#seeds.delete(link);
      // A seed that did not answer: dial it again, backing off to every 5 s, until it does.
      const failures = this.#unreachedSeeds.get(seed);
      if (!this.#ctx.stopped && failures !== undefined) {
        this.#unreachedSeeds.set(seed, failures + 1);
        const retryInMs = Math.min(5_000, 250 * 2 ** Math.min(failures, 5));
        // Said at the first failure and whenever the reason changes, not at every retry.
        const why = seedFailure(seed, reason);
        if (this.#seedTrouble.get(seed) !== why.reason) {
          this.#seedTrouble.set(seed, why.reason);
          this.#ctx.log('warn', 'cannot join the cluster yet', { seed, code: why.code, reason: why.reason, retryInMs, attempts: failures + 1 });
        } else this.#ctx.log('debug', 'cannot join the cluster yet', { seed, code: why.code, reason: why.reason, retryInMs, attempts: failures + 1 });
        this.#ctx.clock.setTimeout(() => {
          if (this.#unreachedSeeds.has(seed)) this.dialSeed(seed);
        }, retryInMs);
      }
      return undefined;
    }
    const node = link.outbound ? (link.target ?? link.peer?.node) : link.peer?.node;
    if (!link.outbound || node === undefined) return undefined;
    const o = this.#out.get(node);
    if (o === undefined) return undefined;
    if (o.dialing === link) o.dialing = undefined;
    if (o.link === link) o.link = undefined;
    if (!link.ready) {
      o.failures++;
      o.nextDialAt = this.#ctx.clock.now() + Math.min(2_000, 100 * 2 ** Math.min(o.failures, 5));
    }
    return node;
  }

  /** Closes the outbound link to `node`, if any. */
  close(node: string, reason: string): void {
    this.#out.get(node)?.link?.close(reason);
  }

  /** Closes every link and dial. */
  closeAll(reason: string): void {
    for (const o of this.#out.values()) {
      o.link?.close(reason);
      o.dialing?.close(reason);
    }
    for (const l of [...this.#seeds.keys(), ...this.#inbound]) l.close(reason);
  }

  #outbound(node: string): Outbound {
    let o = this.#out.get(node);
    if (o === undefined) {
      o = { link: undefined, dialing: undefined, nextDialAt: 0, failures: 0 };
      this.#out.set(node, o);
    }
    return o;
  }
}

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
