/**
 * Snapshot join: a node told to join that holds no data streams a snapshot from the
 * first member it reaches, in hash-checked chunks, and applies it only once every chunk
 * arrived. Members serve such snapshots to nodes that join them.
 */
import { createHash } from 'node:crypto';
import type { CausalStorage, ImportedVersion } from '@koru/delta';
import { replyError, sleep, type NodeContext } from './context.js';
import type { Link } from './link.js';
import type { Member } from './membership.js';
import type { MessageOf } from './messages.js';
import type { PeerLinks } from './peer-links.js';
import { idOfJson } from './version-text.js';

/** Per snapshot chunk: at most this many bytes of versions, or CHUNK_VERSIONS of them. */
const CHUNK_BYTES = 1024 * 1024;
const CHUNK_VERSIONS = 4_096;
/** Deadline between two messages of a snapshot stream. */
const STREAM_MS = 30_000;

/** Fetches a snapshot when this node needs one, and streams snapshots to members that ask. */
export class SnapshotJoin {
  readonly #ctx: NodeContext;
  readonly #links: PeerLinks;
  readonly #sync: (m: Member, link: Link) => Promise<unknown>;
  #needed: boolean;
  #running = false;
  /** Members this node is streaming a snapshot to: no anti-entropy with them meanwhile (it would send the same versions twice). */
  readonly #serving = new Set<string>();

  /**
   * `joining`: the node was told members to join (then it needs a snapshot unless it
   * holds data). `sync` runs an anti-entropy round, for what was written during the snapshot.
   */
  constructor(ctx: NodeContext, links: PeerLinks, joining: boolean, sync: (m: Member, link: Link) => Promise<unknown>) {
    this.#ctx = ctx;
    this.#links = links;
    this.#sync = sync;
    this.#needed = joining && !holdsData(ctx.storage);
  }

  /** True when this node needs a snapshot and is not fetching one: the next ready link should bring it. */
  get wanted(): boolean {
    return this.#needed && !this.#running;
  }

  /** True while this node fetches a snapshot. */
  get running(): boolean {
    return this.#running;
  }

  /** True while this node streams a snapshot to `node`. */
  serving(node: string): boolean {
    return this.#serving.has(node);
  }

  /** Answers a peer's `snapshot` request with the stream of everything this node holds. */
  answer(link: Link, msg: MessageOf<'snapshot'>): void {
    const peer = link.peer!.node;
    this.#serving.add(peer);
    void this.#send(link, msg.id)
      .catch((e) => replyError(link, msg.id, e))
      .finally(() => this.#serving.delete(peer));
  }

  /** Receives a snapshot whole, checks every chunk, then applies it; retries with another member on failure. */
  async fetch(link: Link): Promise<void> {
    const { clock, log } = this.#ctx;
    this.#running = true;
    const started = clock.now();
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
        await this.#ctx.storage.applyReplicated(versions, { maxClockAheadMs: this.#ctx.maxClockAheadMs });
      }
      if (applied !== expected) throw new SnapshotError(`the snapshot said ${expected} versions and held ${applied}`);
      this.#needed = false;
      log('info', 'cluster snapshot applied', { peer: link.peer?.node, versions: applied, ms: clock.now() - started });
    } catch (e) {
      if (e instanceof SnapshotError) link.close(e.message);
      log('warn', 'cluster snapshot failed; will retry', { peer: link.peer?.node, error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.#running = false;
    }
    if (!this.#needed && link.ready) await this.#sync(this.#ctx.members.get(link.peer!.node)!, link).catch(() => {});
    else if (this.#needed && !this.#ctx.stopped) {
      // Retry with whichever member is reachable next.
      clock.setTimeout(() => {
        for (const m of this.#ctx.members.current()) {
          const l = this.#links.ready(m.node);
          if (l !== undefined && this.#needed && !this.#running) void this.fetch(l);
        }
      }, 500);
    }
  }

  /**
   * Streams everything this node holds, in commit order (predecessors first), in chunks
   * of at most 1 MiB. Each chunk names the SHA-256 of its version ids and the end the
   * SHA-256 of those digests, so the receiver knows it got every version meant, in order;
   * each version's content is checked against its id when applied, and each frame by its MAC.
   */
  async #send(link: Link, id: number): Promise<void> {
    const s = this.#ctx.storage;
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
      do await sleep(this.#ctx.clock, link.buffered > 8 * CHUNK_BYTES ? 5 : 0);
      while (link.buffered > 8 * CHUNK_BYTES && !this.#ctx.stopped);
    };
    // Built from the stored text: no value is parsed and serialized again.
    for (const text of s.committedJson(1, s.seq)) {
      batch.push(text);
      ids += idOfJson(text);
      bytes += text.length;
      count++;
      if (bytes >= CHUNK_BYTES || batch.length >= CHUNK_VERSIONS) await flush();
    }
    if (batch.length > 0) await flush();
    link.send({ t: 'snap-end', id, chunks: digests.length, versions: count, sha: createHash('sha256').update(digests.join('')).digest('hex') });
  }
}

/** A snapshot that is damaged or incomplete: the link it came on is closed. */
class SnapshotError extends Error {}

/** True when the store holds a version outside its own records (found without building the hash trees). */
function holdsData(s: CausalStorage): boolean {
  for (const _ of s.committedJson()) return true;
  return false;
}
