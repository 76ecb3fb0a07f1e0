/**
 * A KoruDelta whose store is PostgreSQL (`KoruDelta.start({ store: 'postgres://…' })`,
 * Node only): every method of the handle, answered by @koru/storage-postgres with the
 * query layer's own matcher, ordering, projection and aggregation on top, so answers are
 * the embedded engine's. Filters go down to SQL where SQL can say them (see
 * `explain.sql`); secondary indexes are PostgreSQL indexes; the change feed carries
 * every server's commits. What a shared SQL database makes meaningless or another
 * tool's job (the cluster layer, browser sync, retention and purge, compaction) is
 * refused with UNSUPPORTED, naming what to use instead.
 */
import { InvalidArgumentError, UnsupportedError, type JsonValue } from '@koru/engine';
import type { CausalStorage, HistoryOptions, ImportedVersion, ListKeysOptions, PurgeResult, RecoveryReport, RetentionPolicy, Version, VerifyReport } from '@koru/storage';
import { SYSTEM_NAMESPACE, validateNamespace } from '@koru/storage/names';
import {
  aggregate,
  changeStream,
  checkDefinitionRecord,
  checkIndexField,
  checkViewDefinition,
  executeQuery,
  filterOf,
  IndexNotFoundError,
  LimitExceededError,
  matcherOf,
  MAX_INDEXES_PER_NAMESPACE,
  MAX_VIEWS,
  parseQuery,
  querySpecOf,
  subscribe,
  ViewExistsError,
  ViewNotFoundError,
  type Aggregation,
  type ChangeEvent,
  type DefinitionProblem,
  type Entry,
  type FilterInput,
  type IndexInfo,
  type LaggedEvent,
  type PrunedEvent,
  type Query,
  type QueryResult,
  type QuerySpec,
  type Subscription,
  type SubscriptionSpec,
  type ViewDefinition,
  type ViewInfo,
  type ViewResult,
} from '@koru/query';
import { indexColumns, pathExpression, PostgresStore, pushDown, sqlLiteral, type PostgresStoreOptions } from '@koru/storage-postgres';
import { createHash } from 'node:crypto';
import { diffInHistory } from './diff.js';
import { KoruDelta } from './koru-delta.js';
import {
  AGGREGATE_OPTIONS,
  checkAck,
  checkIfVersion,
  optionsOf,
  QUERY_HISTORY_OPTIONS,
  QUERY_OPTIONS,
  type AggregateOptions,
  type DatabaseStats,
  type DiffOptions,
  type PutManyItem,
  type PutOptions,
  type QueryHistoryOptions,
  type QueryOptions,
  type Replicator,
  type StartOptions,
  type VersionDiff,
  type VersionOf,
} from './options.js';
import type { SyncHandle, SyncOptions, SyncStatus } from './sync/types.js';
import { toEpochMs, toTimePoint, type TimeInput } from './time.js';

type FeedEvent = ChangeEvent | LaggedEvent | PrunedEvent;

/** The PostgreSQL index of a KoruDelta index: a name derived from namespace and field, within PostgreSQL's 63 bytes. */
function indexName(namespace: string, field: string): string {
  return `koru_ix_${createHash('sha256').update(`${namespace}\u0000${field}`).digest('hex').slice(0, 24)}`;
}

/** A KoruDelta on a PostgreSQL store (see the module's comment). */
export class PostgresDelta extends KoruDelta {
  readonly #s: PostgresStore;

  private constructor(store: PostgresStore) {
    super(undefined);
    this.#s = store;
  }

  /** Opens the store at `url` (see {@link KoruDelta.start} and its `store` option). */
  static async open(url: string, options: StartOptions): Promise<PostgresDelta> {
    const storeOptions: PostgresStoreOptions = {
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      ...(options.maxValueBytes !== undefined ? { maxValueBytes: options.maxValueBytes } : {}),
      ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
      ...(options.onWarning !== undefined ? { onWarning: options.onWarning } : {}),
    };
    return new PostgresDelta(await PostgresStore.open(url, storeOptions));
  }

  override get nodeId(): string {
    return this.#s.nodeId;
  }

  override get problems(): DefinitionProblem[] {
    return [];
  }

  override get recovery(): RecoveryReport {
    // Recovery is PostgreSQL's own (its write-ahead log): nothing was replayed here.
    return { replayed: 0 };
  }

  override get storage(): CausalStorage {
    throw new UnsupportedError('a PostgreSQL store has no embedded storage engine underneath');
  }

  /** The PostgreSQL store underneath. */
  get postgres(): PostgresStore {
    return this.#s;
  }

  override setReplicator(replicator: Replicator | undefined): void {
    if (replicator === undefined) return;
    throw new UnsupportedError('a PostgreSQL store is not clustered by KoruDelta: its servers share one database, and PostgreSQL replicates it');
  }

  override async sync(_url: string, _options?: SyncOptions): Promise<SyncHandle> {
    throw new UnsupportedError('sync keeps an embedded database in step with a server; a PostgreSQL store is shared by its servers already');
  }

  override get syncStatus(): SyncStatus | undefined {
    return undefined;
  }

  override put<T = unknown>(namespace: string, key: string, value: NoInfer<T>, options?: PutOptions): Promise<Version> {
    try {
      checkIfVersion(options?.ifVersion);
      checkAck(options?.ack);
    } catch (e) {
      return Promise.reject(e);
    }
    // Any ack is met once PostgreSQL committed it: every server reads the same database.
    return this.#s.put(namespace, key, value, options?.ifVersion !== undefined ? { ifVersion: options.ifVersion } : undefined);
  }

  override putMany(items: readonly PutManyItem[]): Promise<Version[]> {
    try {
      if (Array.isArray(items)) for (const item of items) checkIfVersion((item as PutManyItem | null)?.ifVersion);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#s.putMany(items);
  }

  override delete(namespace: string, key: string, options?: PutOptions): Promise<Version> {
    try {
      checkIfVersion(options?.ifVersion);
      checkAck(options?.ack);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#s.delete(namespace, key, options?.ifVersion !== undefined ? { ifVersion: options.ifVersion } : undefined);
  }

  override get<T = JsonValue>(namespace: string, key: string): Promise<T> {
    return this.#s.get(namespace, key) as Promise<T>;
  }

  override async getVersion<T = JsonValue>(namespace: string, key: string): Promise<VersionOf<T>> {
    return (await this.#s.getVersion(namespace, key)) as VersionOf<T>;
  }

  override async getAt<T = JsonValue>(namespace: string, key: string, when: TimeInput): Promise<VersionOf<T>> {
    return (await this.#s.getAt(namespace, key, toTimePoint(when))) as VersionOf<T>;
  }

  override async history<T = JsonValue>(namespace: string, key: string, options?: HistoryOptions): Promise<Array<VersionOf<T | null>>> {
    options ??= {};
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
      throw new InvalidArgumentError('limit must be a non-negative integer');
    }
    return (await this.#s.history(namespace, key, options.limit !== undefined ? { limit: options.limit } : {})) as Array<VersionOf<T | null>>;
  }

  override async diff(namespace: string, key: string, options: DiffOptions = {}): Promise<VersionDiff> {
    return diffInHistory(namespace, key, await this.#s.history(namespace, key), options);
  }

  /** The live documents a filter may match: pushed down to SQL where it can be, with what explain reports. */
  async #candidates(namespace: string, spec: QuerySpec): Promise<{ rows: Version[]; source: { strategy: 'scan' | 'index'; indexes: readonly string[] }; sql?: { where: string; params: readonly unknown[]; complete: boolean } }> {
    const pushed = pushDown(spec.filter, 2);
    if (pushed === undefined) return { rows: await this.#s.entries(namespace), source: { strategy: 'scan', indexes: [] } };
    // The index list only feeds explain: read beside the rows, not before them.
    const [rows, known] = await Promise.all([this.#s.entriesWhere(namespace, pushed.sql, pushed.params), this.listIndexes(namespace)]);
    const indexed = new Set(known.map((i) => i.field));
    const indexes = pushed.fields.filter((f) => indexed.has(f));
    return {
      rows,
      source: { strategy: indexes.length > 0 ? 'index' : 'scan', indexes },
      sql: { where: pushed.sql, params: pushed.params, complete: pushed.complete },
    };
  }

  override async query<T = JsonValue>(namespace: string, query: Query | FilterInput | unknown = {}, options: QueryOptions = {}): Promise<QueryResult<T>> {
    const { at } = optionsOf(options, QUERY_OPTIONS, 'query');
    const spec = querySpecOf(query);
    validateNamespace(namespace);
    if (at !== undefined) return executeQuery(await this.#s.entries(namespace, toEpochMs(at)), spec) as QueryResult<T>;
    const { rows, source, sql } = await this.#candidates(namespace, spec);
    const result = executeQuery(rows, spec, source);
    return (sql === undefined ? result : Object.freeze({ ...result, explain: Object.freeze({ ...result.explain, sql }) })) as QueryResult<T>;
  }

  override async aggregate(namespace: string, aggregation: Aggregation, options: AggregateOptions = {}): Promise<JsonValue> {
    const { filter, at } = optionsOf(options, AGGREGATE_OPTIONS, 'aggregate');
    const matches = matcherOf(filter);
    aggregate([], aggregation); // a bad aggregation fails before any document is read
    validateNamespace(namespace);
    if (at === undefined) return aggregate(await this.#matchingValues(namespace, filter), aggregation);
    const values: JsonValue[] = [];
    for (const e of await this.#s.entries(namespace, toEpochMs(at))) if (matches === undefined || matches(e.value)) values.push(e.value);
    return aggregate(values, aggregation);
  }

  /** The live values of a namespace a filter matches: candidates from SQL, each checked in the process. */
  async #matchingValues(namespace: string, filter: FilterInput | unknown): Promise<JsonValue[]> {
    const f = filterOf(filter);
    const matches = f === undefined ? undefined : matcherOf(f);
    const { rows } = await this.#candidates(namespace, f === undefined ? {} : { filter: f });
    const values: JsonValue[] = [];
    for (const e of rows) if (matches === undefined || matches(e.value)) values.push(e.value);
    return values;
  }

  override async queryHistory(namespace: string, options: QueryHistoryOptions = {}): Promise<Version[]> {
    const { key, from, to, filter } = optionsOf(options, QUERY_HISTORY_OPTIONS, 'queryHistory');
    const matches = matcherOf(filter);
    const versions = await this.#s.versions(namespace, {
      ...(key !== undefined ? { key } : {}),
      ...(from !== undefined ? { fromMs: toEpochMs(from) } : {}),
      ...(to !== undefined ? { toMs: toEpochMs(to) } : {}),
    });
    return versions.filter((v) => matches === undefined || (!v.deleted && matches(v.value)));
  }

  // ---- secondary indexes: PostgreSQL expression indexes --------------------------

  override async createIndex(namespace: string, field: string): Promise<IndexInfo> {
    validateNamespace(namespace);
    checkIndexField(field);
    const x = pathExpression(field, 'doc');
    const known = (await this.listIndexes(namespace)).find((i) => i.field === field);
    if (known !== undefined) return known;
    const count = await this.#s.run<{ n: string }>('counting indexes', 'SELECT count(*) AS n FROM koru_indexes WHERE ns = $1', [namespace]);
    if (Number(count[0]!.n) >= MAX_INDEXES_PER_NAMESPACE) {
      throw new LimitExceededError(`namespace ${namespace} has ${count[0]!.n} indexes, the most allowed`, MAX_INDEXES_PER_NAMESPACE);
    }
    const name = indexName(namespace, field);
    // Built without blocking writes (CONCURRENTLY); a build another server left invalid is dropped first.
    await this.#s.run('dropping an unfinished index', `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ${sqlLiteral(name)} AND NOT i.indisvalid) THEN EXECUTE 'DROP INDEX ${name}'; END IF; END $$`);
    await this.#s.runUnbounded('creating an index', `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ON koru_heads (ns, ${indexColumns(x)}) WHERE NOT deleted`);
    await this.#s.run('recording an index', 'INSERT INTO koru_indexes (ns, field, index_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [namespace, field, name]);
    return (await this.listIndexes(namespace)).find((i) => i.field === field)!;
  }

  override async dropIndex(namespace: string, field: string): Promise<void> {
    validateNamespace(namespace);
    checkIndexField(field);
    const rows = await this.#s.run<{ index_name: string }>('dropping an index', 'DELETE FROM koru_indexes WHERE ns = $1 AND field = $2 RETURNING index_name', [namespace, field]);
    if (rows.length === 0) throw new IndexNotFoundError(namespace, field);
    await this.#s.runUnbounded('dropping an index', `DROP INDEX CONCURRENTLY IF EXISTS ${rows[0]!.index_name}`);
  }

  override async listIndexes(namespace?: string): Promise<IndexInfo[]> {
    if (namespace !== undefined) validateNamespace(namespace);
    const rows = await this.#s.run<{ ns: string; field: string; created_at: Date }>(
      'listing indexes',
      'SELECT ns, field, created_at FROM koru_indexes WHERE $1::text IS NULL OR ns = $1 ORDER BY ns, field',
      [namespace ?? null],
    );
    return rows.map((r) => Object.freeze({ namespace: r.ns, field: r.field, createdAt: r.created_at.toISOString() }));
  }

  // ---- views: definitions and last results in koru_views ------------------------

  async #viewRow(name: string): Promise<{ definition: ViewInfo; result: { rows: Entry[]; total: number; aggregate?: JsonValue } | null; refreshed_at: Date | null; refreshed_seq: string | null }> {
    if (typeof name !== 'string') throw new InvalidArgumentError('a view name must be a string');
    // JSON text, not jsonb: a definition or a result may hold U+0000.
    const rows = await this.#s.run<{ definition: string; result: string | null; refreshed_at: Date | null; refreshed_seq: string | null }>(
      'reading a view',
      'SELECT definition, result, refreshed_at, refreshed_seq FROM koru_views WHERE name = $1',
      [name],
    );
    if (rows.length === 0) throw new ViewNotFoundError(name);
    const row = rows[0]!;
    return { ...row, definition: JSON.parse(row.definition) as ViewInfo, result: row.result === null ? null : (JSON.parse(row.result) as { rows: Entry[]; total: number; aggregate?: JsonValue }) };
  }

  /** Runs a view's query now: its result and the seq it reflects (read before the data, so it never claims more). */
  async #compute(info: ViewInfo): Promise<{ result: { rows: readonly Entry[]; total: number; aggregate?: JsonValue }; seq: number }> {
    const seq = this.#s.seq;
    if (info.aggregate !== undefined) {
      // One read: the matching documents are both the total and what is aggregated.
      const values = await this.#matchingValues(info.namespace, parseQuery(info.query).filter);
      return { result: { rows: [], total: values.length, aggregate: aggregate(values, info.aggregate) }, seq };
    }
    const r = await this.query(info.namespace, info.query);
    return { result: { rows: r.rows as Entry[], total: r.total }, seq };
  }

  override async createView(definition: ViewDefinition): Promise<ViewInfo> {
    const info = checkViewDefinition(definition);
    const count = await this.#s.run<{ n: string }>('counting views', 'SELECT count(*) AS n FROM koru_views');
    if (Number(count[0]!.n) >= MAX_VIEWS) throw new LimitExceededError(`the database has ${count[0]!.n} views, the most allowed`, MAX_VIEWS);
    const { result, seq } = await this.#compute(info);
    const rows = await this.#s.run(
      'creating a view',
      'INSERT INTO koru_views (name, definition, result, refreshed_at, refreshed_seq) VALUES ($1, $2, $3, now(), $4) ON CONFLICT DO NOTHING RETURNING name',
      [info.name, JSON.stringify(info), JSON.stringify(result), seq],
    );
    if (rows.length === 0) throw new ViewExistsError(info.name);
    return info;
  }

  override async listViews(): Promise<ViewInfo[]> {
    const rows = await this.#s.run<{ definition: string }>('listing views', 'SELECT definition FROM koru_views ORDER BY name');
    return rows.map((r) => Object.freeze(JSON.parse(r.definition) as ViewInfo));
  }

  override async refreshView(name: string): Promise<ViewResult> {
    const row = await this.#viewRow(name);
    const { result, seq } = await this.#compute(row.definition);
    const at = new Date();
    await this.#s.run('refreshing a view', 'UPDATE koru_views SET result = $2, refreshed_at = $3, refreshed_seq = $4 WHERE name = $1', [name, JSON.stringify(result), at, seq]);
    return Object.freeze({ name, ...result, refreshedAt: at.toISOString(), seq });
  }

  override async queryView(name: string): Promise<ViewResult> {
    const row = await this.#viewRow(name);
    // An auto-refresh view is current at every read: computed now, as of the newest change.
    if (row.definition.autoRefresh) {
      const { result, seq } = await this.#compute(row.definition);
      return Object.freeze({ name, ...result, refreshedAt: new Date().toISOString(), seq });
    }
    const result = row.result ?? { rows: [], total: 0 };
    return Object.freeze({ name, ...result, refreshedAt: (row.refreshed_at ?? new Date(0)).toISOString(), seq: Number(row.refreshed_seq ?? 0) });
  }

  override async deleteView(name: string): Promise<void> {
    if (typeof name !== 'string') throw new InvalidArgumentError('a view name must be a string');
    const rows = await this.#s.run('deleting a view', 'DELETE FROM koru_views WHERE name = $1 RETURNING name', [name]);
    if (rows.length === 0) throw new ViewNotFoundError(name);
  }

  // ---- the change feed ----------------------------------------------------------

  override get seq(): number {
    return this.#s.seq;
  }

  override subscribe(spec: SubscriptionSpec, handler: (event: FeedEvent) => void | Promise<void>): Subscription {
    return subscribe(this.#s.changeSource, spec, handler);
  }

  override changes(spec: SubscriptionSpec = {}): AsyncIterableIterator<FeedEvent> {
    return changeStream(this.#s.changeSource, spec);
  }

  // ---- listings, counts, checks -------------------------------------------------

  override contains(namespace: string, key: string): Promise<boolean> {
    return this.#s.contains(namespace, key);
  }

  override listNamespaces(): Promise<string[]> {
    return this.#s.listNamespaces();
  }

  override listKeys(namespace: string, options?: ListKeysOptions): Promise<string[]> {
    return this.#s.listKeys(namespace, options);
  }

  override countKeys(namespace: string): Promise<number> {
    return this.#s.countKeys(namespace);
  }

  override async stateRoot(): Promise<string> {
    throw new UnsupportedError('stateRoot compares replicas of the embedded cluster; a PostgreSQL store has one copy (verify checks it)');
  }

  override stats(): Promise<DatabaseStats> {
    return this.#s.stats();
  }

  override verify(): Promise<VerifyReport> {
    return this.#s.verify();
  }

  // ---- what PostgreSQL's own tools do here ------------------------------------

  override async setRetention(namespace: string, policy: RetentionPolicy): Promise<RetentionPolicy> {
    validateNamespace(namespace);
    void policy;
    throw new UnsupportedError('retention policies are not supported on a PostgreSQL store yet: it keeps every version');
  }

  override async retention(namespace: string): Promise<RetentionPolicy> {
    validateNamespace(namespace);
    return { keep: 'all' };
  }

  override async retentionPolicies(): Promise<Array<readonly [namespace: string, policy: RetentionPolicy]>> {
    return [];
  }

  override async purge(namespace: string, key: string): Promise<PurgeResult> {
    validateNamespace(namespace);
    void key;
    throw new UnsupportedError('purge is not supported on a PostgreSQL store yet');
  }

  override async compact(): Promise<void> {
    // PostgreSQL reclaims space itself (autovacuum): nothing to do.
  }

  override async *exportVersions(options: { readonly namespace?: string } = {}): AsyncGenerator<Version> {
    const namespace = options?.namespace;
    if (namespace !== undefined) validateNamespace(namespace);
    for await (const { version } of this.#s.committed()) {
      if (namespace === undefined || version.namespace === namespace) yield version;
    }
  }

  /**
   * As embedded, with one difference of form: the index and view definitions of a
   * whole-database export (records of the reserved namespace) are not versions here. Each
   * is checked as embedded checks it, before anything is stored; after the data, each
   * key's last record is applied (an index created or dropped, a view created or
   * deleted). Resolves to the versions added plus the definitions that changed something.
   */
  override async importVersions(versions: readonly ImportedVersion[]): Promise<number> {
    if (!Array.isArray(versions)) return this.#s.importVersions(versions as readonly Version[]);
    const data: ImportedVersion[] = [];
    const definitions = new Map<string, ImportedVersion>();
    for (const v of versions) {
      if ((v as ImportedVersion | null)?.namespace !== SYSTEM_NAMESPACE) {
        data.push(v);
        continue;
      }
      checkDefinitionRecord(v.key, v.value, v.deleted === true);
      definitions.delete(v.key); // the last record of a key is the one applied, in its place
      definitions.set(v.key, v);
    }
    let added = await this.#s.importVersions(data as readonly Version[]);
    for (const [key, d] of definitions) if (await this.#applyDefinition(key, d)) added++;
    return added;
  }

  /** Applies one imported definition record; true when it changed something. */
  async #applyDefinition(key: string, d: ImportedVersion): Promise<boolean> {
    const missing = (e: unknown): boolean => {
      const code = (e as { code?: unknown } | null)?.code;
      if (code === 'INDEX_NOT_FOUND' || code === 'VIEW_NOT_FOUND') return false;
      throw e;
    };
    if (key.startsWith('index:')) {
      if (d.deleted === true) {
        const [namespace, ...field] = key.slice('index:'.length).split(':');
        return this.dropIndex(namespace!, field.join(':')).then(() => true, missing);
      }
      const { namespace, field } = d.value as { namespace: string; field: string };
      const known = (await this.listIndexes(namespace)).some((i) => i.field === field);
      if (!known) await this.createIndex(namespace, field);
      return !known;
    }
    const name = key.slice('view:'.length);
    if (d.deleted === true) return this.deleteView(name).then(() => true, missing);
    if ((await this.listViews()).some((v) => v.name === name)) return false;
    const r = d.value as unknown as ViewInfo;
    await this.createView({
      name: r.name,
      namespace: r.namespace,
      query: r.query,
      ...(r.aggregate !== undefined ? { aggregate: r.aggregate } : {}),
      ...(r.description !== undefined ? { description: r.description } : {}),
      autoRefresh: r.autoRefresh,
    });
    return true;
  }

  override close(): Promise<void> {
    return this.#s.close();
  }
}
