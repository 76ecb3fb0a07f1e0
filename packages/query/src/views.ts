/**
 * Materialized views: a named query over one namespace whose result is kept.
 *
 * - A manual view (`autoRefresh: false`, the default) shows the namespace as it was when
 *   last refreshed, however it changes since. It is persisted as its definition plus the
 *   seq of the change it was refreshed after; since history is immutable, the same rows
 *   are rebuilt exactly from the store as of that seq after a reopen (on first read).
 * - An auto-refresh view stays current: the set of keys matching its filter is updated on
 *   every committed write and delete of its namespace (one predicate test per write);
 *   sort, page and projection, or the aggregation, are redone over that set on the next
 *   read after a change. After a reopen the set is rebuilt on first read.
 *
 * Definitions live in the store's reserved namespace, so they are persisted, recovered
 * and versioned like data.
 */
import { canonicalJson, InvalidArgumentError, KoruError, type JsonValue } from '@koru/engine';
import { validateNamespace, type CausalStorage, type Version } from '@koru/storage';
import { aggregate, type Aggregation } from './aggregate.js';
import { compileFilter, type Predicate } from './compile.js';
import { InvalidQueryError, LimitExceededError, ViewExistsError, ViewNotFoundError } from './errors.js';
import { executeQuery, type Entry } from './execute.js';
import { problemOf, type DefinitionProblem } from './problems.js';
import { parseQuery, querySpecOf, queryToWire, type QuerySpec } from './query.js';

/** Most views one database may have. */
export const MAX_VIEWS = 1024;
/** Longest view description, in characters. */
export const MAX_DESCRIPTION_LENGTH = 1024;

const NAME_FORM = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const RECORD_PREFIX = 'view:';

/** What `createView` takes. */
export interface ViewDefinition {
  /** 1–128 characters of `[A-Za-z0-9_.-]`, not starting with `_`, `.` or `-`. */
  readonly name: string;
  readonly namespace: string;
  /**
   * A `Query`, a `Filter` (the view lists the documents it matches) or a query's wire
   * form (default: every document). A query's aggregation is the view's `aggregate`.
   */
  readonly query?: unknown;
  /**
   * Reduce the matching documents with this aggregation (`Agg.count()`, ...) instead of
   * listing them; the query may then only have a filter (and no aggregation of its own).
   */
  readonly aggregate?: Aggregation;
  readonly description?: string;
  /** Keep the view current on every write (default false: refreshed by `refreshView`). */
  readonly autoRefresh?: boolean;
}

/** A view as `listViews` describes it. */
export interface ViewInfo {
  readonly name: string;
  readonly namespace: string;
  /** The query, in wire form. */
  readonly query: JsonValue;
  readonly aggregate?: Aggregation;
  readonly description?: string;
  readonly autoRefresh: boolean;
  /** ISO-8601 UTC. */
  readonly createdAt: string;
}

/** What `queryView` returns. */
export interface ViewResult {
  readonly name: string;
  /** The page of rows (empty for an aggregate view). */
  readonly rows: readonly Entry[];
  /** Documents matching the view's filter. */
  readonly total: number;
  /** The aggregation's result, for an aggregate view. */
  readonly aggregate?: JsonValue;
  /** When the rows were last brought up to date: the last refresh, or for an auto-refresh view the last write it applied. */
  readonly refreshedAt: string;
  /** The view shows the namespace as it was right after this change (`since` for the change feed). */
  readonly seq: number;
}

/** The persisted record: the definition plus the last refresh. */
export interface ViewRecord extends ViewInfo {
  readonly refreshedAt: string;
  readonly seq: number;
}

class View {
  readonly spec: QuerySpec;
  /** The spec without its filter: what runs over keys that already passed it. */
  readonly page: QuerySpec;
  readonly pred: Predicate | undefined;
  refreshedAt: string;
  seq: number;
  /** Auto-refresh views: keys matching the filter; undefined until first read. */
  members: Set<string> | undefined = undefined;
  /** The last computed result; undefined when stale. */
  result: { rows: readonly Entry[]; total: number; aggregate?: JsonValue } | undefined = undefined;

  constructor(
    readonly info: ViewInfo,
    record: { refreshedAt: string; seq: number },
  ) {
    const spec = parseQuery(info.query);
    const pred = spec.filter === undefined ? undefined : compileFilter(spec.filter);
    this.spec = spec;
    const { filter: _filter, ...page } = spec;
    this.page = page;
    this.pred = pred;
    this.refreshedAt = record.refreshedAt;
    this.seq = record.seq;
  }

  /** Tests a new version of a key of this view's namespace against the member set. */
  apply(v: Version): void {
    const members = this.members!;
    const match = !v.deleted && (this.pred === undefined || this.pred(v.value));
    if (match) members.add(v.key);
    else if (!members.delete(v.key)) return;
    this.result = undefined;
  }
}

/** The views of one store. Create one per open store; it follows the store's commits. */
export class ViewSet {
  readonly #s: CausalStorage;
  readonly #views = new Map<string, View>();
  /** Auto-refresh views by namespace, for the write path. */
  readonly #auto = new Map<string, Set<View>>();
  /** Stored definitions that failed to load, by view name: reported, skipped, removable. */
  /** Stored views that did not load, by name, with the error that stopped each. */
  readonly #broken = new Map<string, { problem: DefinitionProblem; cause: unknown }>();

  /**
   * Loads the stored views. A definition that does not check out (see
   * {@link checkViewRecord}) never stops the open: it is skipped and listed in
   * {@link problems}, and `delete` still removes it. O(definitions).
   */
  constructor(storage: CausalStorage) {
    this.#s = storage;
    for (const v of storage.systemEntries()) {
      if (!v.key.startsWith(RECORD_PREFIX)) continue;
      const name = v.key.slice(RECORD_PREFIX.length);
      try {
        if (this.#views.size >= MAX_VIEWS) throw new LimitExceededError(`the database already has ${MAX_VIEWS} views, the most allowed`, MAX_VIEWS);
        const r = checkViewRecord(v.key, v.value);
        this.#add(new View(infoOf(r), r));
      } catch (e) {
        this.#broken.set(name, { problem: problemOf('view', v.key, name, e), cause: e });
      }
    }
    storage.onApply((versions) => this.#apply(versions));
  }

  /** Stored definitions skipped at open because they did not load, sorted by name. */
  get problems(): DefinitionProblem[] {
    return [...this.#broken.values()].map((b) => b.problem).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Creates a view and computes it now. @throws VIEW_EXISTS, INVALID_ARGUMENT (name,
   * description), INVALID_NAMESPACE, INVALID_QUERY, LIMIT_EXCEEDED
   */
  async create(def: ViewDefinition): Promise<ViewInfo> {
    const info = checkDefinition(def);
    if (this.#views.has(info.name)) throw new ViewExistsError(info.name);
    // A broken definition of that name is replaced by this one.
    if (this.#views.size >= MAX_VIEWS) throw new LimitExceededError(`the database has ${this.#views.size} views, the most allowed`, MAX_VIEWS);
    const view = new View(info, { refreshedAt: new Date().toISOString(), seq: this.#s.seq });
    this.#compute(view);
    this.#add(view);
    try {
      await this.#s.putSystem(RECORD_PREFIX + info.name, recordOf(view));
    } catch (e) {
      if (this.#views.get(info.name) === view) this.#remove(view);
      throw e;
    }
    this.#broken.delete(info.name);
    return info;
  }

  /** Every view, sorted by name. */
  list(): ViewInfo[] {
    return [...this.#views.values()].map((v) => v.info).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Recomputes the view from the current data (and persists when). @throws VIEW_NOT_FOUND */
  async refresh(name: string): Promise<ViewResult> {
    const view = this.#get(name);
    view.refreshedAt = new Date().toISOString();
    view.seq = this.#s.seq;
    view.members = undefined;
    view.result = undefined;
    this.#compute(view);
    await this.#s.putSystem(RECORD_PREFIX + view.info.name, recordOf(view));
    return this.query(name);
  }

  /** The view's rows (or aggregate) and when they were refreshed. @throws VIEW_NOT_FOUND */
  query(name: string): ViewResult {
    const view = this.#get(name);
    const r = this.#compute(view);
    return Object.freeze({
      name: view.info.name,
      rows: r.rows,
      total: r.total,
      ...(r.aggregate !== undefined ? { aggregate: r.aggregate } : {}),
      refreshedAt: view.refreshedAt,
      seq: view.info.autoRefresh ? this.#s.seq : view.seq,
    });
  }

  /** Deletes the view. @throws VIEW_NOT_FOUND */
  async delete(name: string): Promise<void> {
    const broken = typeof name === 'string' ? this.#broken.get(name) : undefined;
    if (broken !== undefined) {
      await this.#s.deleteSystem(broken.problem.key);
      this.#broken.delete(name);
      return;
    }
    const view = this.#get(name);
    await this.#s.deleteSystem(RECORD_PREFIX + view.info.name);
    if (this.#views.get(name) === view) this.#remove(view);
  }

  #get(name: string): View {
    if (typeof name !== 'string') throw new InvalidArgumentError(`a view name must be a string, not ${typeof name}`);
    const view = this.#views.get(name);
    if (view !== undefined) return view;
    // A stored view that did not load (see `problems`) exists: say why it cannot be read.
    const broken = this.#broken.get(name);
    if (broken !== undefined) throw brokenViewError(broken.problem, broken.cause);
    throw new ViewNotFoundError(name);
  }

  #add(view: View): void {
    this.#views.set(view.info.name, view);
    if (!view.info.autoRefresh) return;
    let set = this.#auto.get(view.info.namespace);
    if (set === undefined) this.#auto.set(view.info.namespace, (set = new Set()));
    set.add(view);
  }

  #remove(view: View): void {
    this.#views.delete(view.info.name);
    const set = this.#auto.get(view.info.namespace);
    set?.delete(view);
    if (set?.size === 0) this.#auto.delete(view.info.namespace);
  }

  /** Brings the cached result up to date. */
  #compute(view: View): NonNullable<View['result']> {
    if (view.result !== undefined) return view.result;
    const { namespace, autoRefresh, aggregate: agg } = view.info;
    let matching: Iterable<Entry>;
    if (autoRefresh) {
      if (view.members === undefined) {
        const members = new Set<string>();
        for (const v of this.#s.entries(namespace)) if (view.pred === undefined || view.pred(v.value)) members.add(v.key);
        view.members = members;
        view.refreshedAt = new Date().toISOString();
      }
      // An aggregation does not depend on the order of its input: skip the sort.
      matching = this.#s.liveVersionsOf(namespace, view.members, agg === undefined);
    } else {
      const matches: Entry[] = [];
      for (const v of this.#s.entriesAsOf(namespace, view.seq)) if (view.pred === undefined || view.pred(v.value)) matches.push(v);
      matching = matches;
    }
    if (agg !== undefined) {
      const values: JsonValue[] = [];
      for (const e of matching) values.push(e.value);
      view.result = Object.freeze({ rows: Object.freeze([]), total: values.length, aggregate: aggregate(values, agg) });
    } else {
      const r = executeQuery(matching, view.page);
      view.result = Object.freeze({ rows: r.rows, total: r.total });
    }
    return view.result;
  }

  #apply(versions: readonly Version[]): void {
    if (this.#auto.size === 0) return;
    for (const v of versions) {
      const views = this.#auto.get(v.namespace);
      if (views === undefined) continue;
      for (const view of views) {
        if (view.members === undefined) continue;
        view.apply(v);
        view.refreshedAt = v.timestamp;
      }
    }
  }
}

/** The error a read of a view that did not load answers: its problem, with the cause's code and details. */
function brokenViewError(p: DefinitionProblem, cause: unknown): KoruError {
  const message = `${p.message}; delete it and create it again`;
  return cause instanceof KoruError ? new KoruError(cause.code, message, { cause, details: cause.details }) : new InvalidArgumentError(message, { cause });
}

function infoOf(r: ViewInfo): ViewInfo {
  return Object.freeze({
    name: r.name,
    namespace: r.namespace,
    query: r.query,
    ...(r.aggregate !== undefined ? { aggregate: r.aggregate } : {}),
    ...(r.description !== undefined ? { description: r.description } : {}),
    autoRefresh: r.autoRefresh,
    createdAt: r.createdAt,
  });
}

function recordOf(view: View): ViewRecord {
  return { ...view.info, refreshedAt: view.refreshedAt, seq: view.seq };
}

const DEFINITION_KEYS = new Set(['name', 'namespace', 'query', 'aggregate', 'description', 'autoRefresh']);
const RECORD_KEYS = new Set([...DEFINITION_KEYS, 'createdAt', 'refreshedAt', 'seq']);

/**
 * Checks a stored view record (`key` in the reserved namespace, `value` its JSON) as
 * `createView` checks a definition: name (matching the key), namespace, query (it must
 * parse and compile), aggregation, description, flags and refresh state. Used on open
 * and on import, so no stored record can make an open fail. O(record size).
 * @throws INVALID_ARGUMENT, INVALID_NAMESPACE, INVALID_QUERY naming what is wrong
 */
export function checkViewRecord(key: string, value: unknown): ViewRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError('a view record must be an object');
  const r = value as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!RECORD_KEYS.has(k)) throw new InvalidArgumentError(`unknown view record key ${JSON.stringify(k)}`);
  const { name, namespace, description, autoRefresh, createdAt, refreshedAt, seq } = r;
  if (typeof name !== 'string' || !NAME_FORM.test(name)) throw new InvalidArgumentError(`view name ${JSON.stringify(name)} is not a valid name`);
  if (key !== RECORD_PREFIX + name) throw new InvalidArgumentError(`the record ${JSON.stringify(key)} holds the view ${JSON.stringify(name)}`);
  validateNamespace(namespace);
  if (description !== undefined && (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)) {
    throw new InvalidArgumentError(`a view description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  if (typeof autoRefresh !== 'boolean') throw new InvalidArgumentError('autoRefresh must be true or false');
  for (const [field, t] of [['createdAt', createdAt], ['refreshedAt', refreshedAt]] as const) {
    if (typeof t !== 'string' || Number.isNaN(Date.parse(t))) throw new InvalidArgumentError(`${field} must be an ISO-8601 time`);
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new InvalidArgumentError('seq must be a non-negative integer');
  const spec = parseQuery(r.query);
  if (spec.filter !== undefined) compileFilter(spec.filter);
  if (r.aggregate !== undefined) {
    if (spec.aggregate !== undefined) throw new InvalidQueryError('the view has an aggregate and its query has another', 'aggregate');
    aggregate([], r.aggregate as Aggregation);
  }
  return r as unknown as ViewRecord;
}

export function checkDefinition(def: ViewDefinition): ViewInfo {
  if (def === null || typeof def !== 'object' || Array.isArray(def)) throw new InvalidArgumentError('a view definition must be an object');
  for (const k of Object.keys(def)) {
    if (!DEFINITION_KEYS.has(k)) throw new InvalidArgumentError(`unknown view definition key ${JSON.stringify(k)}`);
  }
  const { name, namespace, description, autoRefresh } = def;
  if (typeof name !== 'string' || !NAME_FORM.test(name)) {
    throw new InvalidArgumentError(`view name ${JSON.stringify(name)} must be 1–128 characters of A-Z, a-z, 0-9, "_", "." and "-", starting with a letter or digit`);
  }
  validateNamespace(namespace);
  if (description !== undefined && (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)) {
    throw new InvalidArgumentError(`a view description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  if (autoRefresh !== undefined && typeof autoRefresh !== 'boolean') throw new InvalidArgumentError('autoRefresh must be true or false');
  const { aggregate: fromQuery, ...spec }: QuerySpec = def.query === undefined ? {} : querySpecOf(def.query);
  if (fromQuery !== undefined && def.aggregate !== undefined) {
    throw new InvalidQueryError('the view has an aggregate and its query has another: give one', 'aggregate');
  }
  const agg = def.aggregate ?? fromQuery;
  if (agg !== undefined) {
    const extra = (['sort', 'select', 'offset', 'limit'] as const).find((k) => spec[k] !== undefined);
    if (extra !== undefined) throw new InvalidQueryError(`an aggregate view's query may only filter, not ${extra}`, extra);
    aggregate([], agg); // validates it
  }
  const query = queryToWire(spec);
  return Object.freeze({
    name,
    namespace,
    query,
    ...(agg !== undefined ? { aggregate: JSON.parse(canonicalJson(agg as unknown as JsonValue)) as Aggregation } : {}),
    ...(description !== undefined ? { description } : {}),
    autoRefresh: autoRefresh ?? false,
    createdAt: new Date().toISOString(),
  });
}
