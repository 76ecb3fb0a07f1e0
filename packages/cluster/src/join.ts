/**
 * Join by files: a node told to join that holds no data copies a member's segment files
 * as they are (a checkpoint: pinned, streamed in CRC-checked chunks, resumable after a
 * dropped link; see checkpoint-fetch.ts), installs them in one step, then runs an
 * anti-entropy round for what was written since. Members serve checkpoints to nodes
 * that join them.
 *
 * Until its files are installed the joiner refuses pushed versions (its store must stay
 * empty to take them: ClusterNode answers pushes with an error, and their writers repair
 * by anti-entropy later). If it holds data by then anyway (a local write), it joins as
 * any member does: by anti-entropy alone.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { MAX_CHECKPOINT_CHUNK, StoreNotEmptyError, type StoreCheckpoint } from '@koru/delta';
import { CheckpointError, fetchFiles, startTransfer, type Transfer } from './checkpoint-fetch.js';
import { replyError, type NodeContext } from './context.js';
import { LinkError, type Link } from './link.js';
import type { Member } from './membership.js';
import type { MessageOf } from './messages.js';
import type { PeerLinks } from './peer-links.js';

/** A served checkpoint unused this long is released (its joiner went away). */
const SERVE_IDLE_MS = 60_000;
/** At most this many checkpoints are served at once (each pins files on disk). */
const MAX_SERVED = 4;
/** Deadline of the checkpoint request (the donor flushes and hashes its files first: well under a second for a million versions). */
const CHECKPOINT_MS = 10_000;
/** Failed transfers from one donor before its checkpoint is given up and a new one asked for. */
const MAX_FAILURES = 3;

/** A checkpoint this node serves. */
interface Served {
  readonly peer: string;
  readonly ckpt: StoreCheckpoint;
  timer: unknown;
}

/** Fetches a checkpoint when this node needs one, and serves checkpoints to members that ask. */
export class SnapshotJoin {
  readonly #ctx: NodeContext;
  readonly #links: PeerLinks;
  readonly #sync: (m: Member, link: Link) => Promise<unknown>;
  #needed: boolean;
  #running = false;
  /** The transfer under way (kept across dropped links: it resumes where it stopped). */
  #transfer: Transfer | undefined;
  #failures = 0;
  /** Checkpoints served, by token. */
  readonly #served = new Map<string, Served>();

  /**
   * `joining`: the node was told members to join (then it needs a checkpoint unless it
   * holds data). `sync` runs an anti-entropy round, for what was written since the checkpoint.
   */
  constructor(ctx: NodeContext, links: PeerLinks, joining: boolean, sync: (m: Member, link: Link) => Promise<unknown>) {
    this.#ctx = ctx;
    this.#links = links;
    this.#sync = sync;
    this.#needed = joining && !holdsData(ctx.storage);
  }

  /** True while this node still needs a checkpoint (it takes no pushed versions meanwhile). */
  get needed(): boolean {
    return this.#needed;
  }

  /** True when this node needs a checkpoint and is not fetching one: the next ready link should bring it. */
  get wanted(): boolean {
    return this.#needed && !this.#running;
  }

  /**
   * True while this node fetches a checkpoint or still needs one: anti-entropy waits
   * (versions it brought would leave the store not empty, and the checkpoint refused).
   */
  get running(): boolean {
    return this.#running || this.#needed;
  }

  /** True while this node serves a checkpoint to `node` (no anti-entropy with it meanwhile: it would send the same versions twice). */
  serving(node: string): boolean {
    for (const s of this.#served.values()) if (s.peer === node) return true;
    return false;
  }

  /** Answers a peer's checkpoint requests: `ckpt` (pin and list), `ckpt-get` (a chunk), `ckpt-done` (unpin). */
  answer(link: Link, msg: MessageOf<'ckpt'> | MessageOf<'ckpt-get'> | MessageOf<'ckpt-done'>): void {
    const peer = link.peer!.node;
    if (msg.t === 'ckpt') {
      void this.#open(peer).then(
        ({ token, ckpt }) => link.send({ t: 'ckpt-r', id: msg.id, ckpt: token, seq: ckpt.seq, pruned: ckpt.prunedThroughSeq, files: [...ckpt.files] }),
        (e: unknown) => replyError(link, msg.id, e),
      );
      return;
    }
    const served = this.#served.get(msg.ckpt);
    if (msg.t === 'ckpt-done') {
      if (served?.peer === peer) this.#release(msg.ckpt);
      return;
    }
    try {
      if (served === undefined || served.peer !== peer) {
        throw Object.assign(new Error(`no checkpoint ${msg.ckpt} here for ${peer} (released after ${SERVE_IDLE_MS / 1000} s unused, or never taken)`), { code: 'NOT_FOUND' });
      }
      this.#touch(msg.ckpt, served);
      const file = served.ckpt.files.find((f) => f.name === msg.name);
      if (file === undefined) throw new Error(`${msg.name} is not a file of checkpoint ${msg.ckpt}`);
      if (msg.offset >= file.bytes) throw new Error(`${msg.name} has ${file.bytes} bytes: nothing at offset ${msg.offset}`);
      const bytes = served.ckpt.read(msg.name, msg.offset, Math.min(msg.length, MAX_CHECKPOINT_CHUNK, file.bytes - msg.offset));
      const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      const header = `{"t":"ckpt-chunk","id":${msg.id},"name":"${msg.name}","offset":${msg.offset},"crc":${crc32(b)}`;
      // Raw in a binary frame where the transport has them (no base64, no JSON text of
      // the bytes); else as text: base64 needs no escaping, and the chunk is not copied
      // into an object first.
      if (link.binary) link.sendBinary(`${header}}`, bytes);
      else link.sendText(`${header},"data":"${b.toString('base64')}"}`);
    } catch (e) {
      replyError(link, msg.id, e);
    }
  }

  /** Pins a checkpoint for `peer` (releasing one it asked for before: it started over). */
  async #open(peer: string): Promise<{ token: string; ckpt: StoreCheckpoint }> {
    for (const [token, s] of this.#served) if (s.peer === peer) this.#release(token);
    if (this.#served.size >= MAX_SERVED) throw new Error(`already serving ${MAX_SERVED} joining members: try again later`);
    const ckpt = await this.#ctx.storage.checkpoint();
    const token = randomBytes(16).toString('hex');
    const served: Served = { peer, ckpt, timer: undefined };
    this.#served.set(token, served);
    this.#touch(token, served);
    return { token, ckpt };
  }

  #touch(token: string, s: Served): void {
    if (s.timer !== undefined) this.#ctx.clock.clearTimeout(s.timer);
    s.timer = this.#ctx.clock.setTimeout(() => this.#release(token), SERVE_IDLE_MS);
  }

  #release(token: string): void {
    const s = this.#served.get(token);
    if (s === undefined) return;
    this.#served.delete(token);
    this.#ctx.clock.clearTimeout(s.timer);
    s.ckpt.release();
  }

  /** Releases every served checkpoint (the node stops). */
  close(): void {
    for (const token of [...this.#served.keys()]) this.#release(token);
    this.#transfer?.receiver.abort();
    this.#transfer = undefined;
  }

  /**
   * Fetches a checkpoint from `link`'s peer — resuming the transfer under way when it is
   * that peer's — installs it, then runs an anti-entropy round with the peer. On failure,
   * retries with whichever member is reachable next.
   */
  async fetch(link: Link): Promise<void> {
    const { clock, log, storage } = this.#ctx;
    const peer = link.peer!.node;
    this.#running = true;
    const started = clock.now();
    try {
      let t = this.#transfer;
      if (t !== undefined && t.peer !== peer) {
        // Another donor: its checkpoint is another set of files.
        t.receiver.abort();
        t = this.#transfer = undefined;
      }
      if (t === undefined) {
        log('debug', 'cluster checkpoint asked for', { peer });
        t = this.#transfer = await startTransfer(link, storage, CHECKPOINT_MS);
        this.#failures = 0;
        log('info', 'cluster checkpoint started', { peer, files: t.receiver.files.length, bytes: t.receiver.files.reduce((n, f) => n + f.bytes, 0) });
      } else log('info', 'cluster checkpoint resumed', { peer, received: t.receiver.files.reduce((n, f) => n + t!.receiver.received(f.name), 0) });
      const fetching = clock.now();
      await fetchFiles(link, t);
      const installing = clock.now();
      await storage.installCheckpoint(t.receiver);
      this.#transfer = undefined;
      this.#needed = false;
      link.send({ t: 'ckpt-done', id: link.nextId(), ckpt: t.token });
      log('info', 'cluster checkpoint installed', { peer, files: t.receiver.files.length, bytes: t.fetched, resumed: t.resumed, seq: storage.seq, ms: clock.now() - started, fetchMs: installing - fetching, installMs: clock.now() - installing });
    } catch (e) {
      this.#failed(link, e);
    } finally {
      this.#running = false;
    }
    if (!this.#needed && link.ready) await this.#sync(this.#ctx.members.get(peer)!, link).catch(() => {});
    else if (this.#needed && !this.#ctx.stopped) {
      clock.setTimeout(() => {
        if (!this.#needed || this.#running) return;
        // The donor of the transfer under way first: its files resume where they stopped.
        const prefer = this.#transfer?.peer;
        const order = this.#ctx.members.current().sort((a, b) => (a.node === prefer ? -1 : b.node === prefer ? 1 : 0));
        for (const m of order) {
          const l = this.#links.ready(m.node);
          if (l !== undefined) {
            void this.fetch(l);
            return;
          }
        }
      }, 500);
    }
  }

  /** What a failed fetch leaves: the transfer kept to resume (a dropped link), or dropped. */
  #failed(link: Link, e: unknown): void {
    const { log } = this.#ctx;
    const t = this.#transfer;
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof StoreNotEmptyError) {
      // Data arrived meanwhile (a local write): this node joins by anti-entropy, as any member.
      t?.receiver.abort();
      if (t !== undefined && link.ready) link.send({ t: 'ckpt-done', id: link.nextId(), ckpt: t.token });
      this.#transfer = undefined;
      this.#needed = false;
      log('info', 'cluster checkpoint not needed: this node holds data now; joining by anti-entropy', { peer: link.peer?.node });
      return;
    }
    const dropped = e instanceof LinkError && e.code !== 'remote';
    if (e instanceof CheckpointError) link.close(message);
    // A dropped link resumes; a checkpoint the donor no longer holds is given up for a
    // fresh one; anything else (damage) counts, and after a few the same.
    const gone = e instanceof LinkError && e.code === 'remote' && message.startsWith('NOT_FOUND');
    if (t !== undefined && !dropped && (gone || ++this.#failures >= MAX_FAILURES)) {
      t.receiver.abort();
      if (link.ready) link.send({ t: 'ckpt-done', id: link.nextId(), ckpt: t.token });
      this.#transfer = undefined;
      this.#failures = 0;
    }
    log('warn', 'cluster checkpoint failed; will retry', { peer: link.peer?.node, error: message, resumable: this.#transfer !== undefined });
  }
}

/** True when the store holds a version outside its own records (found without building the hash trees). */
function holdsData(s: NodeContext['storage']): boolean {
  for (const _ of s.committedJson()) return true;
  return false;
}
