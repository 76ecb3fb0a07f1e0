/**
 * The change feed of a PostgreSQL store, as @koru/query's subscriptions read it (a
 * `ChangeSource`). Every commit, on any server, notifies `koru_changes` with its last
 * seq (LISTEN/NOTIFY); a poll of the clock row every `pollMs` covers a notification
 * lost with a dropped connection. While anyone listens, the changes up to the newest
 * known seq are read in order into a window of recent changes, then announced: a
 * subscriber meets them in seq order, every server's alike. A replay from further back
 * than the window is read from PostgreSQL a page at a time, as the subscriber asks.
 */
import { InvalidArgumentError } from '@koru/engine';
import type { Change, ChangeType } from '@koru/storage';
import pg from 'pg';
import { isUnreachable } from './errors.js';
import { valueOfBody, VERSION_COLUMNS, VALUE_JOIN, versionOfRow, type VersionRow } from './rows.js';

/** A version row with what the change needs of the version before it. */
interface ChangeRow extends VersionRow {
  readonly prev_deleted: boolean | null;
  readonly prev_body: string | null;
}

const CHANGE_QUERY = `SELECT ${VERSION_COLUMNS}, p.deleted AS prev_deleted, pb.body AS prev_body
  FROM koru_versions v ${VALUE_JOIN}
  LEFT JOIN koru_versions p ON p.version_id = v.prev
  LEFT JOIN koru_values pb ON pb.value_id = p.value_id
  WHERE v.seq >= $1 AND v.seq <= $2 ORDER BY v.seq`;

/** Changes read per query. */
const PAGE = 500;
/** Most changes the window keeps, and most of their value bytes. */
const WINDOW_CHANGES = 4_096;
const WINDOW_BYTES = 32 * 1024 * 1024;

function changeOfRow(r: ChangeRow): Change {
  const version = versionOfRow(r);
  const prevLive = r.prev !== null && r.prev_deleted === false;
  const changeType: ChangeType = version.deleted ? 'delete' : prevLive ? 'update' : 'insert';
  return Object.freeze({
    seq: Number(r.seq),
    changeType,
    version,
    previousValue: prevLive && r.prev_body !== null ? valueOfBody(r.prev_body) : null,
  });
}

/** Options of a feed. */
export interface FeedOptions {
  /** How often the newest seq is read when no notification came (ms). */
  readonly pollMs: number;
  /** Called with errors the feed met and went on after (a lost listener connection). */
  readonly onError: (e: unknown) => void;
}

/** The change feed of one store (see the module's comment). */
export class ChangeFeed {
  readonly #pool: pg.Pool;
  readonly #connection: pg.ClientConfig;
  readonly #options: FeedOptions;
  /** The last seq read into the window (or, with nobody listening, known). */
  #seq: number;
  /** The newest seq known to be committed. */
  #target: number;
  #window: Change[] = [];
  #windowSizes: number[] = [];
  #windowBytes = 0;
  readonly #listeners = new Set<(seq: number) => void>();
  #listener: pg.Client | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #reading = false;
  #closed = false;
  #page: { from: number; changes: Change[] } | undefined;

  constructor(pool: pg.Pool, connection: pg.ClientConfig, seq: number, options: FeedOptions) {
    this.#pool = pool;
    this.#connection = connection;
    this.#seq = this.#target = seq;
    this.#options = options;
  }

  /** Starts listening for notifications and polling. */
  async start(): Promise<void> {
    await this.#listen();
    this.#poll = setInterval(() => void this.#pollOnce(), this.#options.pollMs);
    this.#poll.unref();
  }

  /**
   * The newest change known to be committed: every change up to it can be given, those
   * not yet read into the window as a promise (see `changeAt`).
   */
  get seq(): number {
    return this.#target;
  }

  /** Change `seq`: from the window, else read from PostgreSQL. */
  changeAt(seq: number): Change | Promise<Change> {
    const w = this.#window;
    const first = this.#seq - w.length + 1;
    if (seq >= first && seq <= this.#seq) return w[seq - first]!;
    const page = this.#page;
    if (page !== undefined && seq >= page.from && seq < page.from + page.changes.length) return page.changes[seq - page.from]!;
    return this.#readPage(seq);
  }

  /** The namespace and key of change `seq`, for a change in the window (the dispatcher asks only for those). */
  changeKeyAt(seq: number): { readonly namespace: string; readonly key: string } {
    // The window only: reading from PostgreSQL here would start a fetch nobody awaits.
    const first = this.#seq - this.#window.length + 1;
    if (seq < first || seq > this.#seq) throw new InvalidArgumentError(`change ${seq} is not in the feed's window`);
    return this.#window[seq - first]!.version;
  }

  onCommit(listener: (seq: number) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#dropWindow();
    };
  }

  /** A commit of seqs up to `seq` is known (this server's own, or notified). */
  committed(seq: number): void {
    if (seq > this.#target) this.#target = seq;
    if (this.#listeners.size === 0) {
      this.#seq = this.#target;
      return;
    }
    // Also when the target did not move: a read that failed (PostgreSQL was down) resumes here.
    if (this.#seq < this.#target) void this.#read();
  }

  /** Stops listening and polling; listeners are told with -1. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll !== undefined) clearInterval(this.#poll);
    const l = this.#listener;
    this.#listener = undefined;
    await l?.end().catch(() => undefined);
    for (const f of [...this.#listeners]) f(-1);
  }

  #dropWindow(): void {
    this.#window = [];
    this.#windowSizes = [];
    this.#windowBytes = 0;
    this.#page = undefined;
    if (!this.#reading) this.#seq = this.#target;
  }

  async #readPage(seq: number): Promise<Change> {
    const r = await this.#pool.query<ChangeRow>({ name: 'koru-changes', text: CHANGE_QUERY, values: [seq, seq + PAGE - 1] });
    const changes = r.rows.map(changeOfRow);
    if (changes.length === 0 || changes[0]!.seq !== seq) throw new InvalidArgumentError(`change ${seq} is not in the database`);
    this.#page = { from: seq, changes };
    return changes[0]!;
  }

  /** Reads every change up to the target into the window, announcing each page. */
  async #read(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (!this.#closed && this.#seq < this.#target && this.#listeners.size > 0) {
        const from = this.#seq + 1;
        const to = Math.min(this.#target, from + PAGE - 1);
        const r = await this.#pool.query<ChangeRow>({ name: 'koru-changes', text: CHANGE_QUERY, values: [from, to] });
        let seq = this.#seq;
        for (const row of r.rows) {
          const c = changeOfRow(row);
          // Commits are numbered in commit order, so the rows are contiguous; a hole would
          // be a bug, and skipping it a silent gap: stop and read again at the next wake.
          if (c.seq !== seq + 1) break;
          this.#push(c, row.body?.length ?? 0);
          seq = c.seq;
        }
        if (seq === this.#seq) break;
        this.#seq = seq;
        for (const f of [...this.#listeners]) f(seq);
      }
    } catch (e) {
      this.#options.onError(e);
    } finally {
      this.#reading = false;
    }
    if (this.#listeners.size === 0) this.#seq = Math.max(this.#seq, this.#target);
  }

  #push(c: Change, bytes: number): void {
    const w = this.#window;
    w.push(c);
    this.#windowSizes.push(bytes);
    this.#windowBytes += bytes;
    while (w.length > WINDOW_CHANGES || (this.#windowBytes > WINDOW_BYTES && w.length > PAGE)) {
      w.shift();
      this.#windowBytes -= this.#windowSizes.shift()!;
    }
  }

  async #pollOnce(): Promise<void> {
    if (this.#closed) return;
    try {
      const r = await this.#pool.query<{ seq: string }>({ name: 'koru-clock', text: 'SELECT seq FROM koru_clock' });
      this.committed(Number(r.rows[0]!.seq));
      if (this.#listener === undefined) await this.#listen();
    } catch (e) {
      if (!isUnreachable(e)) this.#options.onError(e);
    }
  }

  /** Opens the connection that LISTENs; when it drops, the next poll opens another. */
  async #listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.#connection);
    client.on('error', (e) => {
      if (this.#listener === client) this.#listener = undefined;
      void client.end().catch(() => undefined);
      if (!isUnreachable(e)) this.#options.onError(e);
    });
    client.on('end', () => {
      if (this.#listener === client) this.#listener = undefined;
    });
    client.on('notification', (m) => {
      const seq = Number(m.payload);
      if (Number.isSafeInteger(seq)) this.committed(seq);
    });
    try {
      await client.connect();
      await client.query('LISTEN koru_changes');
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#listener = client;
  }
}
