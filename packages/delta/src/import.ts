/**
 * Reading what `kdelta import` (or any caller of `importVersions`/`putMany`) is handed:
 * lines of a JSON-lines file — exported versions or plain `{namespace, key, value}`
 * writes — and whole KoruDelta 1.0 database files. Pure and platform-neutral: no I/O,
 * nothing stored; every problem is a KoruError saying what is wrong (the caller adds
 * where: file and line).
 */
import {
  canonicalize,
  formatHlc,
  HLC_MAX_LOGICAL,
  InvalidArgumentError,
  isId,
  isKoruError,
  KoruError,
  parseHlc,
  valueIdOfCanonical,
  versionIdOf,
  type HlcStamp,
  type KoruErrorOptions,
} from '@koru/engine';
import { CorruptionError, SYSTEM_NAMESPACE, validateKey, validateNamespace, type ImportedVersion, type PutItem } from '@koru/storage';

/** One line of an import file: an exported version, or a plain write (a new version, like `put`). */
export type ImportLine = { readonly kind: 'version'; readonly version: ImportedVersion } | { readonly kind: 'write'; readonly item: PutItem };

/** Options of {@link readImportLine}. */
export interface ReadLineOptions {
  /**
   * Hash the value and fields of an export line against its ids (default true). `false`
   * for a second reading of lines checked before: `importVersions` checks them anyway.
   */
  readonly verify?: boolean;
}

/** The fields of an exported version (what `exportVersions` and `history` give). */
const VERSION_FIELDS: ReadonlySet<string> = new Set(['namespace', 'key', 'value', 'valueId', 'versionId', 'previousVersion', 'timestamp', 'hlc', 'node', 'deleted', 'previousCut']);
/** The fields of a plain write. */
const WRITE_FIELDS: ReadonlySet<string> = new Set(['namespace', 'key', 'value']);
/**
 * Values are hashed here only to check ids; the database applies its own size and depth
 * limits when it stores them. The depth cap is what the JS stack can walk.
 */
const CHECK_LIMITS = { maxBytes: Number.MAX_SAFE_INTEGER, maxDepth: 1000 } as const;

/**
 * Reads one line of a JSON-lines import file. A line with any version field (`versionId`,
 * `hlc`, `node`, `previousVersion`, `deleted`, `valueId`, `timestamp`, `previousCut`) is an exported
 * version and is checked whole, as `importVersions` will check it: its value hashes to
 * its `valueId`, its fields to its `versionId`, its `timestamp` is its `hlc`'s. A line of
 * only `namespace`, `key` and `value` is a plain write; the reserved namespace `_koru` is
 * refused there (only an export carries the database's own records). O(line length);
 * with `verify: false` only parsed and sorted into the two kinds.
 * @throws INVALID_ARGUMENT (not JSON, wrong shape, unknown field, ids that do not match),
 *   INVALID_NAMESPACE, INVALID_KEY, VALUE_TOO_DEEP
 */
export function readImportLine(text: string, options: ReadLineOptions = {}): ImportLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidArgumentError('not a JSON object: each line is an exported version or {"namespace","key","value"}');
  }
  const o = parsed as Record<string, unknown>;
  const fields = Object.keys(o);
  const isVersion = fields.some((f) => VERSION_FIELDS.has(f) && !WRITE_FIELDS.has(f));
  const allowed = isVersion ? VERSION_FIELDS : WRITE_FIELDS;
  for (const f of fields) {
    if (!allowed.has(f)) throw new InvalidArgumentError(`unknown field ${JSON.stringify(f)} (a line is an exported version or {"namespace","key","value"})`);
  }
  if (typeof o.namespace !== 'string') throw new InvalidArgumentError('namespace must be a string');
  if (typeof o.key !== 'string') throw new InvalidArgumentError('key must be a string');
  if (!isVersion) {
    validateNamespace(o.namespace);
    validateKey(o.key);
    if (!('value' in o)) throw new InvalidArgumentError(`(${o.namespace}/${o.key}): value is missing`);
    return { kind: 'write', item: { namespace: o.namespace, key: o.key, value: o.value } };
  }
  return { kind: 'version', version: options.verify === false ? (o as unknown as ImportedVersion) : checkVersion(o, o.namespace, o.key) };
}

function checkVersion(o: Record<string, unknown>, namespace: string, key: string): ImportedVersion {
  const bad = (what: string): never => {
    throw new InvalidArgumentError(`(${namespace}/${key}): ${what}`);
  };
  // A dump holds runs of one namespace: check each new one once.
  if (namespace !== lastNamespace) {
    if (namespace !== SYSTEM_NAMESPACE) validateNamespace(namespace);
    lastNamespace = namespace;
  }
  validateKey(key);
  const { versionId, previousVersion, hlc, node, deleted, valueId, timestamp } = o;
  if (typeof deleted !== 'boolean') bad('deleted must be true or false');
  if (typeof node !== 'string' || node.length === 0 || node.length > 128) bad('node must be a non-empty string of at most 128 characters');
  if (!isId(versionId)) bad('versionId must be 64 lowercase hex digits');
  if (previousVersion !== null && !isId(previousVersion)) bad('previousVersion must be null or 64 lowercase hex digits');
  let stamp: HlcStamp;
  try {
    stamp = parseHlc(hlc as string);
  } catch {
    return bad(`hlc ${JSON.stringify(hlc)} is not a clock stamp`);
  }
  let computed: string | null = null;
  if (deleted === false) {
    if (!('value' in o)) bad('value is missing');
    computed = valueIdOfCanonical(canonicalize(o.value, CHECK_LIMITS).text);
    if (valueId !== undefined && valueId !== computed) bad(`value does not hash to valueId ${String(valueId)}`);
  } else if (valueId !== undefined && valueId !== null) bad('a tombstone has no valueId');
  const expected = versionIdOf({ namespace, key, valueId: computed, previousVersion: previousVersion as string | null, hlc: hlc as string, node: node as string, deleted: deleted as boolean });
  if (expected !== versionId) bad(`versionId ${versionId as string} does not match its content`);
  if (stamp.wall !== isoWall) {
    isoWall = stamp.wall;
    iso = new Date(stamp.wall).toISOString();
  }
  if (timestamp !== undefined && timestamp !== iso) bad(`timestamp ${JSON.stringify(timestamp)} is not the time of its hlc ${hlc as string} (${iso})`);
  // Where retention or a purge cut the key's history before this version (importVersions checks it against the version).
  if (o.previousCut !== undefined) {
    const cut = o.previousCut as Record<string, unknown> | null;
    if (previousVersion === null) bad('previousCut on a version without a previousVersion');
    if (cut === null || typeof cut !== 'object' || Array.isArray(cut) || Object.keys(cut).some((k) => k !== 'hlc' && k !== 'node' && k !== 'purged')) bad('previousCut must be { hlc, node, purged }');
  }
  // Every field checked: the line itself is the version (no copy per line).
  return o as unknown as ImportedVersion;
}

/** The last namespace found valid, and the last time formatted (lines come in runs of both). */
let lastNamespace = '';
let isoWall = -1;
let iso = '';

/** The node id given to versions imported from a 1.0 database (1.0 had no node ids). */
export const V1_NODE = 'koru-1.0';

/** What {@link fromV1Database} read. */
export interface V1Database {
  /** Every version of every key, each key's oldest first, all in clock order: ready for `importVersions` in batches. */
  readonly versions: readonly ImportedVersion[];
  /** Keys read. */
  readonly keys: number;
  /** Versions whose time was moved forward to the one before them (a 1.0 clock that stepped back). */
  readonly moved: number;
}

/** True when `doc` looks like a 1.0 database file (`{"version": 1, "current_state", "history_log"}`). */
export function isV1Database(doc: unknown): boolean {
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && ('current_state' in doc || 'history_log' in doc);
}

/** A key and where in the file it was read. */
interface V1Key {
  readonly namespace: string;
  readonly key: string;
  readonly where: string;
}

interface V1Entry {
  readonly value: unknown;
  readonly wall: number;
  readonly versionId: string;
  readonly where: string;
}

/**
 * Converts a KoruDelta 1.0 database file (the JSON the Rust 1.0 wrote with serde:
 * `current_state` maps a key to its `VersionedValue { value, timestamp, version_id,
 * previous_version }`, `history_log` a key to its versions oldest first) into versions
 * to import. A map may be an array of `[fullKey, value]` pairs (what 1.0 writes), an
 * array of `{key, value}` objects or an object keyed by `"ns:key"`; a full key is
 * `{namespace, key}` or `"ns:key"`. A key's history is `history_log`'s list (or its
 * `current_state` version alone when absent there).
 *
 * The versions get new ids (1.0's were not content addresses of the same fields) on the
 * node {@link V1_NODE}, deterministic for a given file, so importing it twice adds
 * nothing the second time. Timestamps are kept to the millisecond: each version's `hlc`
 * is its 1.0 time (a counter orders versions of one millisecond); a time earlier than
 * the version before it in its key's history is moved forward to it (counted in
 * `moved`). O(versions · log versions + value bytes).
 * @throws INVALID_ARGUMENT naming the entry of a malformed file; CORRUPTION when
 *   `current_state` contradicts `history_log` or a key is listed twice; INVALID_NAMESPACE,
 *   INVALID_KEY for names this version does not accept
 */
export function fromV1Database(doc: unknown): V1Database {
  if (!isV1Database(doc)) throw new InvalidArgumentError('not a 1.0 database file: expected {"version": 1, "current_state": ..., "history_log": ...}');
  const d = doc as Record<string, unknown>;
  if (d.version !== undefined && d.version !== 1) throw new InvalidArgumentError(`a 1.0 database file of format version ${JSON.stringify(d.version)} (only version 1 is known)`);
  const histories = new Map<string, { k: V1Key; entries: V1Entry[] }>();
  for (const [k, list] of mapEntries(d.history_log, 'history_log')) {
    const id = `${k.namespace}\u0000${k.key}`;
    if (histories.has(id)) throw new CorruptionError(`${k.where}: ${k.namespace}:${k.key} is listed twice in history_log`);
    if (!Array.isArray(list)) throw new InvalidArgumentError(`${k.where}: a key's history must be an array of versions`);
    if (list.length === 0) throw new InvalidArgumentError(`${k.where}: ${k.namespace}:${k.key} has an empty history`);
    histories.set(id, { k, entries: list.map((v, i) => v1Entry(v, `${k.where} version ${i}`)) });
  }
  const seen = new Set<string>();
  for (const [k, v] of mapEntries(d.current_state, 'current_state')) {
    const id = `${k.namespace}\u0000${k.key}`;
    if (seen.has(id)) throw new CorruptionError(`${k.where}: ${k.namespace}:${k.key} is listed twice in current_state`);
    seen.add(id);
    const current = v1Entry(v, k.where);
    const h = histories.get(id);
    if (h === undefined) histories.set(id, { k, entries: [current] });
    else if (h.entries.at(-1)!.versionId !== current.versionId) {
      throw new CorruptionError(`${k.where}: current_state holds version ${current.versionId} of ${k.namespace}:${k.key} but its history_log ends with ${h.entries.at(-1)!.versionId}`);
    }
  }
  // Times, made non-decreasing within each key; then one clock order over all keys.
  type Slot = { readonly k: V1Key; readonly e: V1Entry; readonly keyIx: number; readonly i: number; wall: number };
  const slots: Slot[] = [];
  let moved = 0;
  let keyIx = 0;
  for (const { k, entries } of histories.values()) {
    rethrowAt(k.where, () => validateNamespace(k.namespace));
    rethrowAt(k.where, () => validateKey(k.key));
    let last = -Infinity;
    entries.forEach((e, i) => {
      let wall = e.wall;
      if (wall < last) {
        wall = last;
        moved++;
      }
      last = wall;
      slots.push({ k, e, keyIx, i, wall });
    });
    keyIx++;
  }
  slots.sort((a, b) => a.wall - b.wall || a.keyIx - b.keyIx || a.i - b.i);
  const previous = new Map<number, string>();
  const versions: ImportedVersion[] = [];
  let logical = 0;
  for (let j = 0; j < slots.length; j++) {
    const s = slots[j]!;
    logical = j > 0 && slots[j - 1]!.wall === s.wall ? logical + 1 : 0;
    if (logical > HLC_MAX_LOGICAL) throw new InvalidArgumentError(`${s.e.where}: more than ${HLC_MAX_LOGICAL + 1} versions in one millisecond`);
    const valueId = rethrowAt(s.e.where, () => valueIdOfCanonical(canonicalize(s.e.value, CHECK_LIMITS).text));
    const fields = {
      namespace: s.k.namespace,
      key: s.k.key,
      valueId,
      previousVersion: previous.get(s.keyIx) ?? null,
      hlc: formatHlc({ wall: s.wall, logical }),
      node: V1_NODE,
      deleted: false,
    };
    const versionId = versionIdOf(fields);
    previous.set(s.keyIx, versionId);
    versions.push({ ...fields, value: s.e.value, versionId, timestamp: new Date(s.wall).toISOString() });
  }
  return { versions, keys: histories.size, moved };
}

/** The entries of a 1.0 map in any of the encodings {@link fromV1Database} accepts. */
function* mapEntries(map: unknown, name: string): Generator<[V1Key, unknown]> {
  if (map === undefined || map === null) return;
  if (Array.isArray(map)) {
    for (let i = 0; i < map.length; i++) {
      const where = `${name}[${i}]`;
      const item: unknown = map[i];
      if (Array.isArray(item) && item.length === 2) yield [fullKey(item[0], where), item[1]];
      else if (item !== null && typeof item === 'object' && 'key' in item && 'value' in item && Object.keys(item).length === 2) {
        yield [fullKey((item as { key: unknown }).key, where), (item as { value: unknown }).value];
      } else throw new InvalidArgumentError(`${where}: expected a [key, value] pair or {"key", "value"}`);
    }
    return;
  }
  if (typeof map !== 'object') throw new InvalidArgumentError(`${name}: expected an array of [key, value] pairs or an object keyed by "ns:key"`);
  for (const [k, v] of Object.entries(map)) {
    const where = `${name}[${JSON.stringify(k)}]`;
    yield [fullKey(k, where), v];
  }
}

/** A 1.0 `FullKey`: `{namespace, key}` or its canonical string `"ns:key"` (namespaces hold no `:`). */
function fullKey(k: unknown, where: string): V1Key {
  if (typeof k === 'string') {
    const at = k.indexOf(':');
    if (at <= 0) throw new InvalidArgumentError(`${where}: key ${JSON.stringify(k)} is not "namespace:key"`);
    return { namespace: k.slice(0, at), key: k.slice(at + 1), where: `${where} (${k})` };
  }
  if (k !== null && typeof k === 'object') {
    const { namespace, key } = k as { namespace?: unknown; key?: unknown };
    if (typeof namespace === 'string' && typeof key === 'string') return { namespace, key, where: `${where} (${namespace}:${key})` };
  }
  throw new InvalidArgumentError(`${where}: a key must be {"namespace", "key"} or "namespace:key"`);
}

function v1Entry(v: unknown, where: string): V1Entry {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`${where}: a version must be {"value", "timestamp", "version_id", "previous_version"}`);
  const o = v as Record<string, unknown>;
  if (!('value' in o)) throw new InvalidArgumentError(`${where}: value is missing`);
  if (typeof o.version_id !== 'string' || o.version_id === '') throw new InvalidArgumentError(`${where}: version_id must be a non-empty string`);
  if (o.previous_version !== undefined && o.previous_version !== null && typeof o.previous_version !== 'string') {
    throw new InvalidArgumentError(`${where}: previous_version must be a string or null`);
  }
  return { value: o.value, wall: rfc3339Ms(o.timestamp, where), versionId: o.version_id, where };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Epoch ms of an RFC 3339 time (fractions below a millisecond dropped). */
function rfc3339Ms(t: unknown, where: string): number {
  const m = typeof t === 'string' ? RFC3339.exec(t) : null;
  const fail = (): never => {
    throw new InvalidArgumentError(`${where}: timestamp ${JSON.stringify(t)} is not an RFC 3339 time after 1970`);
  };
  if (m === null) return fail();
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '0').slice(0, 3).padEnd(3, '0'));
  const local = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(local);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) fail();
  const offset = m[8] !== undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000;
  const wall = local - offset;
  // An hlc holds 15 digits of ms from the epoch.
  if (wall < 0 || wall > 999_999_999_999_999) fail();
  return wall;
}

/** Runs `fn`; a KoruError it throws gets `where` in front of its message (same code). */
function rethrowAt<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!isKoruError(e)) throw e;
    throw new KoruError(e.code, `${where}: ${e.message}`, { cause: e, details: e.details } satisfies KoruErrorOptions);
  }
}
