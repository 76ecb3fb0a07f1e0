/**
 * Anti-entropy: periodically, with one member at a time, state roots are compared; when
 * they differ, the namespaces' hash trees are walked down to the keys whose histories
 * differ, and each side receives the versions it lacks. This repairs any loss: dropped
 * links, restarts, partitions.
 */
import type { ImportedVersion } from '@koru/delta';
import { REQUEST_MS, replyError, type NodeContext } from './context.js';
import type { Link } from './link.js';
import type { Member } from './membership.js';
import type { MessageOf } from './messages.js';
import type { PeerLinks } from './peer-links.js';
import { pushBatches, type Replication } from './replication.js';
import { idOfJson, type VersionText } from './version-text.js';

/** A subtree with at most this many keys is compared key by key. */
const KEYS_AT_ONCE = 64;
/**
 * Keys per version exchange request. Admitting an answer is synchronous work (each version
 * is hashed and looked up), so an answer is kept to a few thousand versions: tens of ms
 * of event loop, not the second 2,000 keys of a long partition took (writers and probes
 * wait meanwhile). The pipeline (EXCHANGES_IN_FLIGHT) keeps the link busy all the same.
 */
const KEYS_PER_EXCHANGE = 256;
/**
 * Exchange requests of one round in flight at once: the peer reads the next answer while
 * this node admits the last, instead of each side waiting for the other in turn.
 */
const EXCHANGES_IN_FLIGHT = 3;
/** Pushes of one round not yet acknowledged at once (the peer admits one while the next travels). */
const PUSHES_IN_FLIGHT = 4;
/** Nor more than this many bytes queued towards the peer: a slow peer slows the round, it does not grow this node's memory. */
const PUSH_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Versions in one anti-entropy answer, or about ANSWER_BYTES of them (the rest come next round). */
const VERSIONS_PER_ANSWER = 20_000;
const ANSWER_BYTES = 8 * 1024 * 1024;
/** An anti-entropy round that moved at least this many versions is followed by another at once. */
const BACK_TO_BACK_VERSIONS = 500;
/**
 * How long versions a peer was told to push are counted on before they are asked of
 * anyone again (a round that failed half-way leaves its promises behind; they lapse).
 */
const EXPECT_MS = 1_000;
/**
 * Most promised versions remembered at once: the claims only save duplicate transfers,
 * so past this (a peer's frame may list a million ids) promises are not recorded and a
 * version may come twice, rather than this node's memory grow with what peers send.
 */
const MAX_EXPECTED = 200_000;

/** What anti-entropy must know of a snapshot join (see SnapshotJoin). */
export interface SnapshotState {
  /** True while this node fetches a snapshot: no rounds meanwhile (it would receive the same versions twice). */
  readonly running: boolean;
  /** True while this node streams a snapshot to `node`: no rounds with it meanwhile. */
  serving(node: string): boolean;
}

/** Runs anti-entropy rounds, and answers the rounds of others. */
/** A peer's state root as an anti-entropy round saw it. */
export interface PeerRoot {
  readonly root: string;
  /** When (this node's clock, ms). */
  readonly at: number;
  /** Whether it equalled this node's root then. */
  readonly matched: boolean;
}

export class AntiEntropy {
  readonly #ctx: NodeContext;
  readonly #links: PeerLinks;
  readonly #replication: Replication;
  readonly #snapshot: SnapshotState;
  readonly #intervalMs: number;
  #syncing: Promise<'equal' | number> | undefined;
  /** The member the running round is with. */
  #syncingWith: string | undefined;
  /** When the last anti-entropy round found the roots equal, and this node's seq then. */
  #quiet: { readonly seq: number; readonly at: number } | undefined;
  /** Versions peers were told to push here (see ExpectedVersions). */
  readonly #expected = new ExpectedVersions();
  /**
   * Keys (`ns NUL key`) this node's running round asked a peer about, until the answer is
   * admitted. What this node lacks of them is on its way: a peer's round asking about them
   * meanwhile is not told to push it (it would come twice), but that its answer was cut
   * short (`more`): its next round sees what is still missing then.
   */
  readonly #asking = new Set<string>();
  /** Each peer's state root as the last round with it (started by either side) saw it. */
  readonly #peerRoots = new Map<string, PeerRoot>();

  /** `intervalMs`: the period of rounds (see ClusterOptions.antiEntropyIntervalMs). */
  constructor(ctx: NodeContext, links: PeerLinks, replication: Replication, snapshot: SnapshotState, intervalMs: number) {
    this.#ctx = ctx;
    this.#links = links;
    this.#replication = replication;
    this.#snapshot = snapshot;
    this.#intervalMs = intervalMs;
  }

  /** One period: rounds with one member, those this node owes versions to first. */
  async tick(): Promise<void> {
    this.#expected.sweep(this.#ctx.clock.now());
    if (this.#syncing !== undefined || this.#snapshot.running) return;
    const s = this.#ctx.storage;
    const candidates = this.#ctx.members.current().filter((m) => m.state !== 'dead' && !this.#snapshot.serving(m.node) && this.#links.ready(m.node) !== undefined);
    // Members this node owes versions to first, then any at random.
    const owed = candidates.filter((m) => this.#replication.owes(m.node));
    // In sync and nothing committed here since: a round every third period is enough
    // (the others' rounds, and their pushes, still come at their pace).
    const q = this.#quiet;
    if (owed.length === 0 && q !== undefined && q.seq === s.seq && this.#ctx.clock.now() - q.at < 3 * this.#intervalMs) return;
    const pool = owed.length > 0 ? owed : candidates;
    const m = pool[Math.floor(this.#ctx.random() * pool.length)];
    if (m === undefined) return;
    const link = this.#links.ready(m.node)!;
    try {
      // While rounds move many versions, the next follows at once (a round cut short by
      // the answer cap, or writes that came meanwhile). A few versions (writes still on
      // their way as pushes) wait for the next period.
      for (let round = 0; round < 50 && link.ready && !this.#ctx.stopped; round++) {
        const result = await this.syncWith(m, link);
        if (result === 'equal') {
          this.#quiet = { seq: s.seq, at: this.#ctx.clock.now() };
          return;
        }
        this.#quiet = undefined;
        if (result < BACK_TO_BACK_VERSIONS) return;
      }
    } catch (e) {
      this.#ctx.log('debug', 'anti-entropy round failed', { peer: m.node, error: String(e) });
    }
  }

  /**
   * One anti-entropy round with `m`: compare roots; if they differ, exchange what differs.
   * Resolves `equal` when the roots matched, else how many versions were exchanged. A
   * round already running (with anyone) is joined rather than doubled.
   */
  syncWith(m: Member, link: Link): Promise<'equal' | number> {
    if (this.#syncing !== undefined) return this.#syncing;
    this.#syncingWith = m.node;
    this.#syncing = (async () => {
      const s = this.#ctx.storage;
      const started = this.#ctx.clock.now();
      const root = s.stateRoot();
      const r = await link.request<MessageOf<'ae-roots-r'>>({ t: 'ae-roots', id: link.nextId(), root }, REQUEST_MS);
      this.#notePeerRoot(m.node, r.root, root);
      let complete = true;
      let moved = 0;
      if (r.root !== root) {
        const mine = s.namespaceRoots();
        const theirs = r.namespaces ?? {};
        const names = new Set([...mine.keys(), ...Object.keys(theirs)]);
        for (const ns of [...names].sort()) {
          if (mine.get(ns) === theirs[ns]) continue;
          const done = await this.#exchangeKeys(link, ns, await this.#differingKeys(link, ns));
          complete &&= done.complete;
          moved += done.moved;
        }
      }
      // Everything written here before the round started is now on the peer (unless an
      // answer was cut short: then the next round finishes it).
      if (complete) this.#replication.settled(m.node, started, r.root === root);
      return r.root === root ? 'equal' : moved;
    })().finally(() => {
      this.#syncing = undefined;
      this.#syncingWith = undefined;
    });
    return this.#syncing;
  }

  /** `node`'s state root as the last anti-entropy round with it saw it (none yet: undefined). */
  peerRoot(node: string): PeerRoot | undefined {
    return this.#peerRoots.get(node);
  }

  #notePeerRoot(node: string, theirs: string, mine: string): void {
    this.#peerRoots.set(node, { root: theirs, at: this.#ctx.clock.now(), matched: theirs === mine });
  }

  /** Answers a peer's round: its roots, tree and key requests. */
  answer(link: Link, msg: MessageOf<'ae-roots'> | MessageOf<'ae-tree'> | MessageOf<'ae-keys'>): void {
    const s = this.#ctx.storage;
    // Two members that start rounds with each other at once (both owe the other after a
    // partition) would each send the other everything twice: a round moves versions both
    // ways, so one is enough. The member with the smaller id keeps its own.
    const peer = link.peer?.node;
    // A node still fetching its checkpoint holds (next to) nothing: a round with it would
    // walk the whole tree and push every version, which it refuses until installed.
    if (this.#snapshot.running) {
      replyError(link, msg.id, Object.assign(new Error('joining: rounds are answered once the checkpoint is installed'), { code: 'UNAVAILABLE' }));
      return;
    }
    if (peer !== undefined && this.#syncingWith === peer && this.#ctx.members.self < peer) {
      replyError(link, msg.id, Object.assign(new Error(`a round with ${peer} runs already, started here`), { code: 'BUSY' }));
      return;
    }
    switch (msg.t) {
      case 'ae-roots': {
        const root = s.stateRoot();
        if (peer !== undefined) this.#notePeerRoot(peer, msg.root, root);
        link.send(root === msg.root ? { t: 'ae-roots-r', id: msg.id, root } : { t: 'ae-roots-r', id: msg.id, root, namespaces: Object.fromEntries(s.namespaceRoots()) });
        return;
      }
      case 'ae-tree': {
        const nodes: MessageOf<'ae-tree-r'>['nodes'] = {};
        for (const p of msg.prefixes) {
          const n = s.merkleNode(msg.ns, p);
          if (n.keys <= KEYS_AT_ONCE || p.length >= 4) nodes[p] = { keys: s.merkleKeys(msg.ns, p).map(([k, d]) => [k, d] as [string, string]) };
          else nodes[p] = { children: s.merkleChildren(msg.ns, p).map((c) => [c.prefix, c.digest, c.keys] as [string, string, number]) };
        }
        link.send({ t: 'ae-tree-r', id: msg.id, nodes });
        return;
      }
      case 'ae-keys': {
        try {
          link.sendText(this.#exchange(link, msg.id, msg.ns, msg.keys));
        } catch (e) {
          replyError(link, msg.id, e);
        }
        return;
      }
    }
  }

  /** Walks `ns`'s hash tree with the peer down to the keys whose histories differ. */
  async #differingKeys(link: Link, ns: string): Promise<string[]> {
    const s = this.#ctx.storage;
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
            for (const [k, d] of s.merkleKeys(ns, p)) {
              if (theirs.get(k) !== d) differing.push(k);
              theirs.delete(k);
            }
            for (const k of theirs.keys()) differing.push(k);
          } else {
            const mine = new Map(s.merkleChildren(ns, p).map((c) => [c.prefix, c.digest]));
            for (const [cp, d] of node.children ?? []) {
              if (mine.get(cp) !== d) next.push(cp);
              mine.delete(cp);
            }
            // Subtrees only this node has: the peer lacks all their keys.
            for (const cp of mine.keys()) for (const [k] of s.merkleKeys(ns, cp)) differing.push(k);
          }
        }
      }
      prefixes = next;
    }
    return differing;
  }

  /**
   * Exchanges the versions of `keys` with the peer, as a pipeline: up to
   * EXCHANGES_IN_FLIGHT requests out while answers are admitted, and what the peer lacks
   * pushed without waiting for each acknowledgement (up to PUSHES_IN_FLIGHT, and
   * PUSH_BUFFERED_BYTES queued). Resolves how many versions moved, and whether the peer
   * cut an answer short (then the next round exchanges the rest).
   */
  async #exchangeKeys(link: Link, ns: string, keys: readonly string[]): Promise<{ complete: boolean; moved: number }> {
    const s = this.#ctx.storage;
    const node = link.peer!.node;
    let complete = true;
    let moved = 0;
    const requests: Array<{ readonly p: Promise<MessageOf<'ae-keys-r'>>; readonly chunk: readonly string[] }> = [];
    const pushes = new Set<Promise<void>>();
    let next = 0;
    const request = (): void => {
      const chunk = keys.slice(next, next + KEYS_PER_EXCHANGE);
      next += chunk.length;
      const now = this.#ctx.clock.now();
      const asked = chunk.map((key) => {
        // Versions another peer is pushing here are not asked for again.
        const coming = this.#expected.of(ns, key, now);
        return coming.length > 0 ? { key, ids: s.versionIdsOf(ns, key), coming } : { key, ids: s.versionIdsOf(ns, key) };
      });
      const p = link.request<MessageOf<'ae-keys-r'>>({ t: 'ae-keys', id: link.nextId(), ns, keys: asked }, REQUEST_MS);
      // Awaited in order below; a failure is seen there, not as an unhandled rejection meanwhile.
      p.catch(() => {});
      for (const key of chunk) this.#asking.add(`${ns}\u0000${key}`);
      requests.push({ p, chunk });
    };
    const done = (q: { readonly chunk: readonly string[] }): void => {
      for (const key of q.chunk) this.#asking.delete(`${ns}\u0000${key}`);
    };
    try {
      while (next < keys.length || requests.length > 0) {
        while (next < keys.length && requests.length < EXCHANGES_IN_FLIGHT) request();
        const q = requests[0]!;
        let r: MessageOf<'ae-keys-r'>;
        try {
          r = await q.p;
          if (r.versions.length > 0) await s.applyReplicated(r.versions as ImportedVersion[], { maxClockAheadMs: this.#ctx.maxClockAheadMs });
        } finally {
          requests.shift();
          done(q);
        }
        if (r.more === true) complete = false;
        moved += r.versions.length;
        const theirs: VersionText[] = [];
        for (const { key, ids } of r.missing) {
          for (const json of s.versionsJson(ns, key, new Set(ids))) theirs.push({ id: idOfJson(json), json });
        }
        moved += theirs.length;
        for (const b of pushBatches(theirs)) {
          while (pushes.size >= PUSHES_IN_FLIGHT || (pushes.size > 0 && link.buffered > PUSH_BUFFERED_BYTES)) await Promise.race(pushes);
          const p = this.#replication.push(node, link, b, this.#ctx.clock.now()).finally(() => pushes.delete(p));
          pushes.add(p);
        }
      }
    } finally {
      for (const q of requests) done(q);
      // Pushes settle on their own (an unanswered one becomes a debt anti-entropy repairs).
      await Promise.all(pushes);
    }
    return { complete, moved };
  }

  /**
   * The peer's side of a key exchange, as the JSON of the answer: the versions it lacks
   * (from their stored text, up to about ANSWER_BYTES; the rest come next round) and the
   * ids this node lacks (the peer will push these; until EXPECT_MS passes no one is asked
   * for them again), but those another peer is pushing here already, and those of keys
   * this node's own round is asking about (then the answer says `more`).
   */
  #exchange(link: Link, id: number, ns: string, keys: ReadonlyArray<{ key: string; ids: readonly string[]; coming?: readonly string[] | undefined }>): string {
    const s = this.#ctx.storage;
    const now = this.#ctx.clock.now();
    const versions: string[] = [];
    const missing: Array<{ key: string; ids: string[] }> = [];
    let bytes = 0;
    let more = false;
    for (const { key, ids, coming } of keys) {
      const mine = s.versionIdsOf(ns, key);
      const mineSet = new Set(mine);
      const expected = this.#expected.of(ns, key, now);
      const lack = ids.filter((vid) => !mineSet.has(vid) && !expected.includes(vid));
      if (lack.length > 0 && this.#asking.has(`${ns}\u0000${key}`)) more = true;
      else if (lack.length > 0) {
        missing.push({ key, ids: lack });
        this.#expected.add(ns, key, lack, link, now + EXPECT_MS);
      }
      const theirs = new Set(ids);
      if (coming !== undefined) for (const vid of coming) theirs.add(vid);
      const give = new Set(mine.filter((vid) => !theirs.has(vid)));
      if (give.size === 0) continue;
      if (versions.length >= VERSIONS_PER_ANSWER || bytes >= ANSWER_BYTES) {
        more = true;
        continue;
      }
      for (const text of s.versionsJson(ns, key, give)) {
        versions.push(text);
        bytes += text.length;
      }
    }
    return `{"t":"ae-keys-r","id":${id},"versions":[${versions.join(',')}],"missing":${JSON.stringify(missing)}${more ? ',"more":true' : ''}}`;
  }
}

/** One promised version: who promised it and until when it is counted on. */
interface Promised {
  readonly link: Link;
  readonly until: number;
}

/**
 * Versions peers were told to push here (the `missing` of an exchange answer), per key.
 * After a partition every member of the other side holds the same versions; without this
 * each peer whose round comes would be told to push them all again. Promises lapse after
 * EXPECT_MS or when the promising link closes (a round that failed half-way).
 */
class ExpectedVersions {
  readonly #byKey = new Map<string, Map<string, Promised>>();
  /** Promises held (lapsed ones until the next sweep). */
  #count = 0;

  /** The versions of `ns`/`key` promised and not lapsed at `now`. */
  of(ns: string, key: string, now: number): string[] {
    const m = this.#byKey.get(`${ns}\u0000${key}`);
    if (m === undefined) return [];
    const out: string[] = [];
    for (const [vid, p] of m) if (p.until > now && p.link.ready) out.push(vid);
    return out;
  }

  /** Records that the peer on `link` will push `ids` of `ns`/`key`. */
  add(ns: string, key: string, ids: readonly string[], link: Link, until: number): void {
    if (this.#count + ids.length > MAX_EXPECTED) return;
    const k = `${ns}\u0000${key}`;
    let m = this.#byKey.get(k);
    if (m === undefined) this.#byKey.set(k, (m = new Map()));
    const before = m.size;
    for (const vid of ids) m.set(vid, { link, until });
    this.#count += m.size - before;
  }

  /** Forgets lapsed promises (kept or not: a kept one is in the store now). */
  sweep(now: number): void {
    for (const [k, m] of this.#byKey) {
      for (const [vid, p] of m) {
        if (p.until > now && p.link.ready) continue;
        m.delete(vid);
        this.#count--;
      }
      if (m.size === 0) this.#byKey.delete(k);
    }
  }
}
