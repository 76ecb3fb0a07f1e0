/**
 * The secondary indexes of a database and the query executor that uses them.
 *
 * An index's definition is a record in the store's reserved namespace, so it is
 * persisted, recovered and versioned like data; its contents live in memory. After a
 * reopen an index is rebuilt from the namespace's live documents the first time a query
 * needs it (opening stays O(definitions)); until then writes skip it, since the build
 * reads the current state anyway. A built index is updated synchronously as each batch
 * commits, so a query after an acknowledged write always sees it.
 */
import { InvalidArgumentError } from '@koru/engine';
import { validateNamespace, type CausalStorage, type Version } from '@koru/storage';
import { IndexNotFoundError, InvalidQueryError, LimitExceededError } from './errors.js';
import { executeQuery, type Entry, type QueryResult } from './execute.js';
import { validatePath } from './paths.js';
import { planFilter, type IndexPlan } from './plan.js';
import { problemOf, type DefinitionProblem } from './problems.js';
import type { QuerySpec } from './query.js';
import { SecondaryIndex } from './secondary-index.js';

/** Most secondary indexes one namespace may have. */
export const MAX_INDEXES_PER_NAMESPACE = 64;
/** Longest indexed field path, in characters. */
export const MAX_INDEX_FIELD_LENGTH = 512;

export function checkField(field: unknown): asserts field is string {
  validatePath(field, 'field');
  if (field.length > MAX_INDEX_FIELD_LENGTH) {
    throw new InvalidQueryError(`an indexed field path may have at most ${MAX_INDEX_FIELD_LENGTH} characters, not ${field.length}`, 'field');
  }
}

/** A secondary index as `listIndexes` describes it. */
export interface IndexInfo {
  readonly namespace: string;
  readonly field: string;
  /** When it was created, ISO-8601 UTC. */
  readonly createdAt: string;
}

interface IndexSlot {
  readonly info: IndexInfo;
  /** Undefined until first needed after a reopen. */
  index: SecondaryIndex | undefined;
}

const RECORD_PREFIX = 'index:';

/** The indexes of one store. Create one per open store; it follows the store's commits. */
export class IndexSet {
  readonly #s: CausalStorage;
  readonly #slots = new Map<string, Map<string, IndexSlot>>();
  /** Stored definitions that failed to load, by record key: reported, skipped, removable. */
  readonly #broken = new Map<string, DefinitionProblem>();

  /**
   * Loads the stored index definitions. One that does not check out (see
   * {@link checkIndexRecord}) never stops the open: it is skipped and listed in
   * {@link problems}, and `drop` still removes it. O(definitions).
   */
  constructor(storage: CausalStorage) {
    this.#s = storage;
    for (const v of storage.systemEntries()) {
      if (!v.key.startsWith(RECORD_PREFIX)) continue;
      try {
        const { namespace, field, createdAt } = checkIndexRecord(v.key, v.value);
        const slots = this.#slotsOf(namespace);
        if (slots.size >= MAX_INDEXES_PER_NAMESPACE) {
          throw new LimitExceededError(`namespace ${namespace} already has ${MAX_INDEXES_PER_NAMESPACE} indexes, the most allowed`, MAX_INDEXES_PER_NAMESPACE);
        }
        slots.set(field, { info: Object.freeze({ namespace, field, createdAt }), index: undefined });
      } catch (e) {
        this.#broken.set(v.key, problemOf('index', v.key, v.key.slice(RECORD_PREFIX.length), e));
      }
    }
    storage.onApply((versions) => this.#apply(versions));
  }

  /** Stored definitions skipped at open because they did not load, sorted by key. */
  get problems(): DefinitionProblem[] {
    return [...this.#broken.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Indexes `field` (a dotted path) of `namespace`'s documents. Builds it from the live
   * documents now (O(n log n)) and persists its definition. Creating an index that
   * exists returns it unchanged.
   * @throws INVALID_NAMESPACE, INVALID_QUERY (bad path), LIMIT_EXCEEDED
   */
  async create(namespace: string, field: string): Promise<IndexInfo> {
    validateNamespace(namespace);
    checkField(field);
    const slots = this.#slotsOf(namespace);
    const known = slots.get(field);
    if (known !== undefined) return known.info;
    if (slots.size >= MAX_INDEXES_PER_NAMESPACE) {
      throw new LimitExceededError(`namespace ${namespace} has ${slots.size} indexes, the most allowed`, MAX_INDEXES_PER_NAMESPACE);
    }
    const info: IndexInfo = Object.freeze({ namespace, field, createdAt: new Date().toISOString() });
    // Registered before the definition is written: writes committed meanwhile maintain it.
    const slot: IndexSlot = { info, index: this.#build(namespace, field) };
    slots.set(field, slot);
    try {
      // A broken definition under the same key is replaced by this one.
      await this.#s.putSystem(recordKey(namespace, field), { ...info });
    } catch (e) {
      if (slots.get(field) === slot) slots.delete(field);
      throw e;
    }
    this.#broken.delete(recordKey(namespace, field));
    return info;
  }

  /** Removes the index. @throws INDEX_NOT_FOUND */
  async drop(namespace: string, field: string): Promise<void> {
    // A broken definition is removed by the names it was stored under, valid or not.
    const broken = typeof namespace === 'string' && typeof field === 'string' ? this.#broken.get(recordKey(namespace, field)) : undefined;
    if (broken !== undefined) {
      await this.#s.deleteSystem(broken.key);
      this.#broken.delete(broken.key);
      return;
    }
    validateNamespace(namespace);
    checkField(field);
    const slots = this.#slots.get(namespace);
    if (slots?.get(field) === undefined) throw new IndexNotFoundError(namespace, field);
    await this.#s.deleteSystem(recordKey(namespace, field));
    slots.delete(field);
  }

  /** The indexes of `namespace`, or of every namespace, sorted by namespace then field. */
  list(namespace?: string): IndexInfo[] {
    if (namespace !== undefined) validateNamespace(namespace);
    const out: IndexInfo[] = [];
    for (const [ns, slots] of this.#slots) {
      if (namespace === undefined || ns === namespace) for (const s of slots.values()) out.push(s.info);
    }
    return out.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
  }

  /**
   * Runs `spec` over the live documents of `namespace`: through the indexes when the
   * filter allows (see `planFilter`) and the candidates are a small part of the index,
   * by a scan otherwise. Either way the result is the same, rows in the same order;
   * `explain` tells which ran.
   */
  execute(namespace: string, spec: QuerySpec): QueryResult {
    const slots = this.#slots.get(namespace);
    const plan = spec.filter === undefined || slots === undefined || slots.size === 0
      ? undefined
      : planFilter(spec.filter, (path) => {
          const slot = slots.get(path);
          if (slot === undefined) return undefined;
          return (slot.index ??= this.#build(namespace, path));
        });
    if (plan !== undefined) {
      const keys = candidates(plan);
      if (keys !== undefined) {
        const entries = this.#s.liveVersionsOf(namespace, keys);
        return executeQuery(entries, spec, { strategy: 'index', indexes: [...new Set(plan.map((a) => a.index.field))] });
      }
    }
    return executeQuery(this.#s.entries(namespace) as Iterable<Entry>, spec);
  }

  /** The namespace's slots, created empty when it has none. */
  #slotsOf(namespace: string): Map<string, IndexSlot> {
    let slots = this.#slots.get(namespace);
    if (slots === undefined) this.#slots.set(namespace, (slots = new Map()));
    return slots;
  }


  #build(namespace: string, field: string): SecondaryIndex {
    const index = new SecondaryIndex(namespace, field);
    for (const v of this.#s.entries(namespace)) index.update(v.key, v.value);
    return index;
  }

  #apply(versions: readonly Version[]): void {
    for (const v of versions) {
      const slots = this.#slots.get(v.namespace);
      if (slots === undefined) continue;
      for (const slot of slots.values()) slot.index?.update(v.key, v.deleted ? undefined : v.value);
    }
  }
}

/**
 * The keys an index plan selects, or undefined when they would be more than a quarter
 * of the largest index used: past that, fetching and re-ordering candidates costs more
 * than testing every document.
 */
function candidates(plan: IndexPlan): Set<string> | undefined {
  let largest = 0;
  for (const a of plan) largest = Math.max(largest, a.index.size);
  const max = Math.max(1024, largest >>> 2);
  const keys = new Set<string>();
  for (const a of plan) {
    for (const r of a.ranges) if (!a.index.collect(r, keys, max)) return undefined;
  }
  return keys;
}

/**
 * Checks a stored index record (`key` in the reserved namespace, `value` its JSON) as
 * `createIndex` checks its arguments: a valid namespace and field path, stored under the
 * key they make, and a creation time. Used on open and on import. O(record size).
 * @throws INVALID_ARGUMENT, INVALID_NAMESPACE, INVALID_QUERY naming what is wrong
 */
export function checkIndexRecord(key: string, value: unknown): IndexInfo {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError('an index record must be an object');
  const r = value as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (k !== 'namespace' && k !== 'field' && k !== 'createdAt') throw new InvalidArgumentError(`unknown index record key ${JSON.stringify(k)}`);
  }
  const { namespace, field, createdAt } = r;
  validateNamespace(namespace);
  checkField(field);
  if (key !== recordKey(namespace, field)) throw new InvalidArgumentError(`the record ${JSON.stringify(key)} holds the index ${namespace}:${field}`);
  if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt))) throw new InvalidArgumentError('createdAt must be an ISO-8601 time');
  return { namespace, field, createdAt };
}

/** Namespaces never contain ':', so the record key parses back unambiguously. */
function recordKey(namespace: string, field: string): string {
  return `${RECORD_PREFIX}${namespace}:${field}`;
}
