/**
 * A KoruDelta store in PostgreSQL. Stateless: everything durable is in the database
 * (./schema.ts), so any number of servers can open the same one. Writes go through the
 * commit queue (./commit-queue.ts): compare-and-set is checked in the transaction that
 * moves the head, so it holds across servers. Reads are SQL (one indexed lookup for a
 * get, an index range scan for history and time travel). The change feed
 * (./feed.ts) gives every server's subscribers every server's commits, in `seq` order.
 */
import { randomBytes } from 'node:crypto';
import {
  canonicalize,
  formatHlc,
  HLC_MAX_LOGICAL,
  HLC_MAX_WALL,
  HybridClock,
  InvalidArgumentError,
  isKoruError,
  type CanonicalLimits,
  type HlcStamp,
  type JsonValue,
  type WallClock,
} from '@koru/engine';
import { ClosedError, KeyNotFoundError } from '@koru/storage/errors';
import { checkListKeysOptions, validateKey, validateNamespace, type ListKeysOptions, type StorageStats, type Version, type VerifyReport } from '@koru/storage';
import pg from 'pg';
import { CommitQueue, type WriteItem } from './commit-queue.js';
import { koruErrorOf } from './errors.js';
import { ChangeFeed } from './feed.js';
import { HeadCache } from './head-cache.js';
import { migrate } from './schema.js';
import { verifyStore } from './verify.js';
import { checkImports } from './import-checks.js';
import { checkPostgresUrl, redactUrl } from './urls.js';
import { valueOfBody, VALUE_JOIN, VERSION_COLUMNS, versionOfRow, type VersionRow } from './rows.js';

/** Options of {@link PostgresStore.open}. */
export interface PostgresStoreOptions {
  /** Most connections this server opens (the pool's size; one more listens for changes). Default 10. */
  readonly maxConnections?: number;
  /** How long to wait for a connection before answering UNAVAILABLE (ms). Default 5,000. */
  readonly connectTimeoutMs?: number;
  /**
   * Longest a statement may run before PostgreSQL cancels it and the call answers
   * UNAVAILABLE (ms): one request blocked on a lock held elsewhere must not hang. Index
   * builds are exempt. Default 30,000.
   */
  readonly statementTimeoutMs?: number;
  /** How often the newest change is polled for, in case a notification was lost (ms). Default 1,000. */
  readonly pollMs?: number;
  /** Largest value (canonical JSON bytes). */
  readonly maxValueBytes?: number;
  /** Deepest nesting of a value. */
  readonly maxDepth?: number;
  /** The wall clock (tests). */
  readonly now?: WallClock;
  /** Told of problems the store met and went on after (a lost listener connection). */
  readonly onWarning?: (message: string) => void;
}

/** Options of `put`/`delete`. */
export interface PostgresWriteOptions {
  readonly ifVersion?: string | null;
}

/** One item of `putMany`. */
export interface PostgresPutItem {
  readonly namespace: string;
  readonly key: string;
  readonly value: unknown;
  readonly ifVersion?: string | null;
}

const OPTION_NAMES = new Set(['maxConnections', 'connectTimeoutMs', 'statementTimeoutMs', 'pollMs', 'maxValueBytes', 'maxDepth', 'now', 'onWarning']);

function positiveInt(name: string, v: unknown, max: number): void {
  if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max)) {
    throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`);
  }
}

/**
 * The greatest clock stamp of millisecond `ms` in text form: every version written at or
 * before it sorts at or below it (stamps sort as text). '' before the epoch: none does.
 */
function lastStampOf(ms: number): string {
  return ms < 0 ? '' : formatHlc({ wall: Math.min(Math.floor(ms), HLC_MAX_WALL), logical: HLC_MAX_LOGICAL });
}

/** A KoruDelta store in PostgreSQL (see the module's comment). */
export class PostgresStore {
  readonly #pool: pg.Pool;
  readonly #limits: CanonicalLimits;
  readonly #commits: CommitQueue;
  readonly #feed: ChangeFeed;
  readonly #nodeId: string;
  readonly #url: string;
  readonly #now: WallClock;
  #closed = false;

  private constructor(pool: pg.Pool, url: string, seq: number, options: PostgresStoreOptions, connection: pg.ClientConfig) {
    this.#pool = pool;
    this.#url = url;
    this.#now = options.now ?? Date.now;
    this.#nodeId = randomBytes(8).toString('hex');
    this.#limits = {
      ...(options.maxValueBytes !== undefined ? { maxBytes: options.maxValueBytes } : {}),
      ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
    };
    const warn = (e: unknown): void => {
      try {
        (options.onWarning ?? ((m: string) => console.warn(m)))(`koru: the PostgreSQL change feed: ${e instanceof Error ? e.message : String(e)}`);
      } catch {
        // A throwing callback must not stop the feed.
      }
    };
    this.#feed = new ChangeFeed(pool, connection, seq, { pollMs: options.pollMs ?? 1_000, onError: warn });
    this.#commits = new CommitQueue(pool, new HybridClock(options.now), this.#nodeId, new HeadCache(100_000), (s) => this.#feed.committed(s));
  }

  /**
   * Connects, creates or migrates the schema, and starts following the change feed.
   * @throws INVALID_ARGUMENT (a bad URL or option), UNAVAILABLE (PostgreSQL cannot be reached), IO_ERROR
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    checkPostgresUrl(url);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('PostgreSQL store options must be an object');
    for (const k of Object.keys(options)) if (!OPTION_NAMES.has(k)) throw new InvalidArgumentError(`unknown PostgreSQL store option ${JSON.stringify(k)}`);
    positiveInt('maxConnections', options.maxConnections, 1_000);
    positiveInt('connectTimeoutMs', options.connectTimeoutMs, 600_000);
    positiveInt('pollMs', options.pollMs, 600_000);
    positiveInt('statementTimeoutMs', options.statementTimeoutMs, 86_400_000);
    const connection: pg.ClientConfig = {
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      application_name: 'korudelta',
      // A TCP keepalive notices a PostgreSQL that vanished without closing the socket.
      keepAlive: true,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
    };
    const pool = new pg.Pool({ ...connection, max: options.maxConnections ?? 10, idleTimeoutMillis: 30_000 });
    // An idle connection that breaks must not crash the process: the pool drops it.
    pool.on('error', () => undefined);
    let store: PostgresStore | undefined;
    try {
      const client = await pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
      const r = await pool.query<{ seq: string }>('SELECT seq FROM koru_clock');
      store = new PostgresStore(pool, url, Number(r.rows[0]!.seq), options, connection);
      await store.#feed.start();
      return store;
    } catch (e) {
      if (store !== undefined) await store.#feed.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
      throw koruErrorOf(e, `opening ${redactUrl(url)}`);
    }
  }

  /** This server's id as a writer: new at each start (the server keeps nothing of its own). */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** The store's URL without its password. */
  get location(): string {
    return redactUrl(this.#url);
  }

  /** The newest change this server knows of (its own commits, and other servers' as notified). */
  get seq(): number {
    return this.#feed.seq;
  }

  /** The change feed, as @koru/query's subscriptions read it. */
  get changeSource(): ChangeFeed {
    return this.#feed;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError();
  }

  async #query<R extends pg.QueryResultRow>(doing: string, config: pg.QueryConfig): Promise<R[]> {
    this.#checkOpen();
    try {
      return (await this.#pool.query<R>(config)).rows;
    } catch (e) {
      throw koruErrorOf(e, doing);
    }
  }

  // ---- writes -----------------------------------------------------------------

  /** Writes a value (compare-and-set with `ifVersion`). @throws VERSION_CONFLICT, INVALID_*, UNAVAILABLE */
  async put(namespace: string, key: string, value: unknown, options?: PostgresWriteOptions): Promise<Version> {
    this.#checkOpen();
    validateNamespace(namespace);
    validateKey(key);
    const canon = canonicalize(value, this.#limits);
    const [v] = await this.#commits.submit([{ namespace, key, canon, ifVersion: options?.ifVersion }]);
    return v!;
  }

  /** Writes a tombstone. @throws KEY_NOT_FOUND, VERSION_CONFLICT, UNAVAILABLE */
  async delete(namespace: string, key: string, options?: PostgresWriteOptions): Promise<Version> {
    this.#checkOpen();
    validateNamespace(namespace);
    validateKey(key);
    const [v] = await this.#commits.submit([{ namespace, key, canon: null, ifVersion: options?.ifVersion }]);
    return v!;
  }

  /** Writes several values as one transaction: all or none. */
  async putMany(items: readonly PostgresPutItem[]): Promise<Version[]> {
    this.#checkOpen();
    if (!Array.isArray(items)) throw new InvalidArgumentError('putMany expects an array of { namespace, key, value }');
    const writes: WriteItem[] = [];
    for (const item of items) {
      if (item === null || typeof item !== 'object') throw new InvalidArgumentError('putMany items must be objects');
      validateNamespace(item.namespace);
      validateKey(item.key);
      writes.push({ namespace: item.namespace, key: item.key, canon: canonicalize(item.value, this.#limits), ifVersion: item.ifVersion });
    }
    if (writes.length === 0) return [];
    return this.#commits.submit(writes);
  }

  /**
   * Adds versions made elsewhere (an export), unchanged, as one transaction: each is
   * checked against its ids, and must chain on its key's head (or on the one before it
   * in the batch). One already stored, or twice in the batch, is skipped. Resolves to
   * the number added.
   * @throws INVALID_ARGUMENT naming the version that does not fit (nothing is stored);
   *   CLOCK_SKEW for a version stamped more than 10 minutes ahead of this server's clock
   */
  async importVersions(versions: readonly Version[]): Promise<number> {
    this.#checkOpen();
    if (!Array.isArray(versions)) throw new InvalidArgumentError('importVersions expects an array of versions');
    const ids = versions.map((v) => (v as { versionId?: unknown } | null)?.versionId).filter((id): id is string => typeof id === 'string');
    const known = new Set(
      (await this.#query<{ version_id: string }>('checking imported versions', { text: 'SELECT version_id FROM koru_versions WHERE version_id = ANY($1::text[])', values: [ids] })).map((r) => r.version_id),
    );
    const { fresh, bodies } = checkImports(versions, known, this.#limits, this.#now());
    if (fresh.length === 0) return 0;
    await this.#commits.submitVersions(fresh, bodies);
    return fresh.length;
  }

  // ---- reads ------------------------------------------------------------------

  /** The current value. @throws KEY_NOT_FOUND */
  async get(namespace: string, key: string): Promise<JsonValue> {
    validateNamespace(namespace);
    validateKey(key);
    const rows = await this.#query<{ body: string | null }>('reading a value', {
      name: 'koru-get',
      text: 'SELECT body FROM koru_heads WHERE ns = $1 AND key = $2 AND NOT deleted',
      values: [namespace, key],
    });
    const body = rows[0]?.body;
    if (body === undefined || body === null) throw new KeyNotFoundError(namespace, key);
    return valueOfBody(body);
  }

  /** The current version. @throws KEY_NOT_FOUND */
  async getVersion(namespace: string, key: string): Promise<Version> {
    validateNamespace(namespace);
    validateKey(key);
    const rows = await this.#query<VersionRow>('reading a version', {
      name: 'koru-get-version',
      text: `SELECT ${VERSION_COLUMNS} FROM koru_heads h JOIN koru_versions v ON v.version_id = h.version_id ${VALUE_JOIN} WHERE h.ns = $1 AND h.key = $2 AND NOT h.deleted`,
      values: [namespace, key],
    });
    if (rows.length === 0) throw new KeyNotFoundError(namespace, key);
    return versionOfRow(rows[0]!);
  }

  /** True when the key has a current value. */
  async contains(namespace: string, key: string): Promise<boolean> {
    validateNamespace(namespace);
    validateKey(key);
    const rows = await this.#query('reading a head', {
      name: 'koru-contains',
      text: 'SELECT 1 FROM koru_heads WHERE ns = $1 AND key = $2 AND NOT deleted',
      values: [namespace, key],
    });
    return rows.length > 0;
  }

  /** Every version of the key, oldest first (the newest `limit` with one). @throws KEY_NOT_FOUND */
  async history(namespace: string, key: string, options: { readonly limit?: number } = {}): Promise<Version[]> {
    validateNamespace(namespace);
    validateKey(key);
    const limit = options.limit;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
      throw new InvalidArgumentError(`history limit must be a non-negative integer, got ${String(limit)}`);
    }
    const rows = await this.#query<VersionRow>('reading a history', {
      name: 'koru-history',
      text: `SELECT * FROM (SELECT ${VERSION_COLUMNS} FROM koru_versions v ${VALUE_JOIN} WHERE v.ns = $1 AND v.key = $2 ORDER BY v.hlc DESC LIMIT $3) t ORDER BY t.hlc`,
      values: [namespace, key, limit ?? null],
    });
    if (rows.length === 0) {
      if (limit === 0 && (await this.#exists(namespace, key))) return [];
      throw new KeyNotFoundError(namespace, key);
    }
    return rows.map(versionOfRow);
  }

  async #exists(namespace: string, key: string): Promise<boolean> {
    const rows = await this.#query('reading a head', { text: 'SELECT 1 FROM koru_heads WHERE ns = $1 AND key = $2', values: [namespace, key] });
    return rows.length > 0;
  }

  /**
   * The version current at `at` (a time in ms, or a clock stamp): of the key's versions
   * in clock order, the last at or before it. A tombstone, or none: KEY_NOT_FOUND.
   */
  async getAt(namespace: string, key: string, at: number | HlcStamp): Promise<Version> {
    validateNamespace(namespace);
    validateKey(key);
    let bound: string;
    if (typeof at === 'number' && !Number.isNaN(at)) {
      bound = lastStampOf(at);
    } else if (at !== null && typeof at === 'object' && Number.isInteger((at as HlcStamp).wall) && Number.isInteger((at as HlcStamp).logical)) {
      bound = formatHlc(at as HlcStamp);
    } else {
      throw new InvalidArgumentError('getAt expects a time in ms since the epoch or a clock stamp');
    }
    const rows = await this.#query<VersionRow>('reading a version in the past', {
      name: 'koru-get-at',
      text: `SELECT ${VERSION_COLUMNS} FROM koru_versions v ${VALUE_JOIN} WHERE v.ns = $1 AND v.key = $2 AND v.hlc <= $3 ORDER BY v.hlc DESC, v.node DESC LIMIT 1`,
      values: [namespace, key, bound],
    });
    const found = rows[0];
    if (found === undefined || found.deleted) {
      if (!(await this.#exists(namespace, key))) throw new KeyNotFoundError(namespace, key);
      const stamp = typeof at !== 'number';
      const when = stamp ? formatHlc(at as HlcStamp) : Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : String(at);
      throw new KeyNotFoundError(namespace, key, `${namespace}/${key} had no value at ${stamp ? 'hlc ' : ''}${when}`, { details: stamp ? { hlc: when } : { at: when } });
    }
    return versionOfRow(found);
  }

  /** Namespaces with live keys, sorted. */
  async listNamespaces(): Promise<string[]> {
    const rows = await this.#query<{ ns: string }>('listing namespaces', { name: 'koru-namespaces', text: 'SELECT ns FROM koru_namespaces WHERE live > 0 ORDER BY ns' });
    return rows.map((r) => r.ns);
  }

  /** Live keys of a namespace in key order (UTF-8 bytes), a page at a time. */
  async listKeys(namespace: string, options?: ListKeysOptions): Promise<string[]> {
    validateNamespace(namespace);
    const { prefix, after, limit } = checkListKeysOptions(options);
    const rows = await this.#query<{ key: string }>('listing keys', {
      name: 'koru-list-keys',
      text: `SELECT key FROM koru_heads WHERE ns = $1 AND NOT deleted AND key >= $2 AND ($3::text IS NULL OR key > $3) AND starts_with(key, $2) ORDER BY key LIMIT $4`,
      values: [namespace, prefix, after ?? null, Number.isFinite(limit) ? limit : null],
    });
    return rows.map((r) => r.key);
  }

  /** The number of live keys of a namespace: a counter every commit keeps. */
  async countKeys(namespace: string): Promise<number> {
    validateNamespace(namespace);
    const rows = await this.#query<{ live: string }>('counting keys', { name: 'koru-count', text: 'SELECT live FROM koru_namespaces WHERE ns = $1', values: [namespace] });
    return rows.length === 0 ? 0 : Number(rows[0]!.live);
  }

  /** Counts and sizes, from the counters every commit keeps. */
  async stats(): Promise<StorageStats> {
    const rows = await this.#query<{ seq: string; value_count: string; value_bytes: string; keys: string | null; namespaces: string | null; bytes: string }>('reading stats', {
      name: 'koru-stats',
      text: `SELECT c.seq, c.value_count, c.value_bytes,
          (SELECT sum(live) FROM koru_namespaces) AS keys,
          (SELECT count(*) FROM koru_namespaces WHERE live > 0) AS namespaces,
          (SELECT coalesce(sum(pg_total_relation_size(c2.oid)), 0) FROM pg_class c2 WHERE c2.relname LIKE 'koru\\_%' AND c2.relkind = 'r') AS bytes
        FROM koru_clock c`,
    });
    const r = rows[0]!;
    const seq = Number(r.seq);
    return {
      keys: Number(r.keys ?? 0),
      versions: seq,
      namespaces: Number(r.namespaces ?? 0),
      distinctValues: Number(r.value_count),
      valueBytes: Number(r.value_bytes),
      diskBytes: Number(r.bytes),
      seq,
      adapter: 'postgres',
    };
  }

  /**
   * The live versions of a namespace, now or as of `atMs` (the version of each key with
   * the last clock at or before it, unless a tombstone), in key order.
   */
  async entries(namespace: string, atMs?: number): Promise<Version[]> {
    validateNamespace(namespace);
    if (atMs === undefined) {
      const rows = await this.#query<VersionRow>('reading a namespace', {
        name: 'koru-entries',
        text: `SELECT ${VERSION_COLUMNS} FROM koru_heads h JOIN koru_versions v ON v.version_id = h.version_id ${VALUE_JOIN} WHERE h.ns = $1 AND NOT h.deleted ORDER BY h.key`,
        values: [namespace],
      });
      return rows.map(versionOfRow);
    }
    const bound = lastStampOf(atMs);
    const rows = await this.#query<VersionRow>('reading a namespace in the past', {
      name: 'koru-entries-at',
      text: `SELECT * FROM (SELECT DISTINCT ON (v.key) ${VERSION_COLUMNS} FROM koru_versions v ${VALUE_JOIN}
               WHERE v.ns = $1 AND v.hlc <= $2 ORDER BY v.key, v.hlc DESC, v.node DESC) t WHERE NOT t.deleted ORDER BY t.key`,
      values: [namespace, bound],
    });
    return rows.map(versionOfRow);
  }

  /** Live versions of a namespace whose documents meet a SQL condition on `h.doc` (and those jsonb cannot hold), in key order. */
  async entriesWhere(namespace: string, condition: string, params: readonly unknown[]): Promise<Version[]> {
    validateNamespace(namespace);
    // A document jsonb cannot hold (doc NULL) comes from the second branch only: a negated
    // condition (`… IS NOT TRUE`) holds on NULL, and would list it twice.
    const rows = await this.#query<VersionRow>('querying a namespace', {
      text: `SELECT ${VERSION_COLUMNS} FROM koru_heads h JOIN koru_versions v ON v.version_id = h.version_id ${VALUE_JOIN}
             WHERE h.ns = $1 AND NOT h.deleted AND h.doc IS NOT NULL AND (${condition})
             UNION ALL
             SELECT ${VERSION_COLUMNS} FROM koru_heads h JOIN koru_versions v ON v.version_id = h.version_id ${VALUE_JOIN}
             WHERE h.ns = $1 AND NOT h.deleted AND h.doc IS NULL
             ORDER BY key`,
      values: [namespace, ...params],
    });
    return rows.map(versionOfRow);
  }

  /** Versions of a key, or of a namespace's keys, whose timestamp lies in [fromMs, toMs]: oldest first within each key, keys in key order. */
  async versions(namespace: string, options: { readonly key?: string; readonly fromMs?: number; readonly toMs?: number } = {}): Promise<Version[]> {
    validateNamespace(namespace);
    if (options.key !== undefined) validateKey(options.key);
    const rows = await this.#query<VersionRow>('reading versions', {
      name: 'koru-versions',
      text: `SELECT ${VERSION_COLUMNS} FROM koru_versions v ${VALUE_JOIN}
             WHERE v.ns = $1 AND ($2::text IS NULL OR v.key = $2) AND ($3::bigint IS NULL OR v.wall >= $3) AND ($4::bigint IS NULL OR v.wall <= $4)
             ORDER BY v.key, v.hlc`,
      values: [namespace, options.key ?? null, options.fromMs === undefined ? null : Math.ceil(options.fromMs), options.toMs === undefined ? null : Math.floor(options.toMs)],
    });
    if (options.key !== undefined && rows.length === 0 && !(await this.#exists(namespace, options.key))) throw new KeyNotFoundError(namespace, options.key);
    return rows.map(versionOfRow);
  }

  /** Every committed version from `fromSeq` on, in commit order, a page at a time (export). */
  async *committed(fromSeq = 1): AsyncGenerator<{ readonly seq: number; readonly version: Version }> {
    let next = fromSeq;
    for (;;) {
      const rows = await this.#query<VersionRow>('exporting', {
        name: 'koru-committed',
        text: `SELECT ${VERSION_COLUMNS} FROM koru_versions v ${VALUE_JOIN} WHERE v.seq >= $1 ORDER BY v.seq LIMIT 1000`,
        values: [next],
      });
      for (const r of rows) yield { seq: Number(r.seq), version: versionOfRow(r) };
      if (rows.length < 1000) return;
      next = Number(rows[rows.length - 1]!.seq) + 1;
    }
  }

  /**
   * Re-hashes every value and version and checks every chain and head (see ./verify.ts).
   */
  verify(): Promise<VerifyReport> {
    return verifyStore((doing, config) => this.#query(doing, config));
  }

  // ---- definitions ------------------------------------------------------------

  /** Runs one statement outside the commit path (definitions, DDL). */
  async run<R extends pg.QueryResultRow>(doing: string, text: string, values: unknown[] = []): Promise<R[]> {
    return this.#query<R>(doing, { text, values });
  }

  /**
   * Runs one statement with no time limit, outside any transaction (an index build with
   * CREATE INDEX CONCURRENTLY, which may take minutes on a large namespace).
   */
  async runUnbounded(doing: string, text: string): Promise<void> {
    this.#checkOpen();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw koruErrorOf(e, doing);
    }
    let broken: unknown;
    try {
      await client.query('SET statement_timeout = 0');
      await client.query(text);
      await client.query('RESET statement_timeout');
    } catch (e) {
      broken = e;
      throw koruErrorOf(e, doing);
    } finally {
      // A connection left with no limit (the reset failed) is closed, not reused.
      client.release(broken !== undefined ? (broken instanceof Error ? broken : new Error(String(broken))) : undefined);
    }
  }

  /** Stops following the feed, waits for queued writes, and closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#commits.idle();
    this.#closed = true;
    await this.#feed.close();
    await this.#pool.end().catch(() => undefined);
  }
}

/** True when `e` is one of KoruDelta's errors (re-exported for callers that only hold this package). */
export { isKoruError };
