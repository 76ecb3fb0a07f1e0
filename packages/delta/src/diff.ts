/**
 * Structural diff of two JSON values: which paths were added, removed or changed.
 * Paths are JSON Pointers (RFC 6901), so keys containing `.` or `/` stay unambiguous.
 * Objects are compared key by key and arrays index by index; a change of type at a
 * path is one `changed` entry. O(size of both values).
 */
import { InvalidArgumentError, type JsonValue } from '@koru/engine';
import { VersionNotFoundError } from '@koru/storage/errors';
import type { Version } from '@koru/storage';
import type { DiffOptions, VersionDiff, VersionRef } from './options.js';
import { toEpochMs } from './time.js';

/** One difference. */
export interface DiffChange {
  readonly kind: 'added' | 'removed' | 'changed';
  /** JSON Pointer to the place (`""` is the whole value). */
  readonly path: string;
  readonly before?: JsonValue;
  readonly after?: JsonValue;
}

const escape = (seg: string | number) => String(seg).replace(/~/g, '~0').replace(/\//g, '~1');
const isObject = (v: JsonValue): v is { readonly [k: string]: JsonValue } =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The changes that turn `before` into `after`, in path order. */
export function diffValues(before: JsonValue | undefined, after: JsonValue | undefined, path = ''): DiffChange[] {
  const out: DiffChange[] = [];
  walk(before, after, path, out);
  return out;
}

function walk(a: JsonValue | undefined, b: JsonValue | undefined, path: string, out: DiffChange[]): void {
  if (a === undefined && b === undefined) return;
  if (a === undefined) {
    out.push({ kind: 'added', path, after: b! });
    return;
  }
  if (b === undefined) {
    out.push({ kind: 'removed', path, before: a });
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) walk(a[i], b[i], `${path}/${i}`, out);
    return;
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      walk(Object.hasOwn(a, k) ? a[k] : undefined, Object.hasOwn(b, k) ? b[k] : undefined, `${path}/${escape(k)}`, out);
    }
    return;
  }
  if (a !== b) out.push({ kind: 'changed', path, before: a, after: b });
}

/** The index in `history` of the version `ref` names. @throws INVALID_ARGUMENT, VERSION_NOT_FOUND */
function indexOf(history: readonly Version[], ref: VersionRef): number {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref >= history.length || ref < -history.length) {
      throw new InvalidArgumentError(`no version at history index ${ref} (the key has ${history.length})`);
    }
    return ref < 0 ? history.length + ref : ref;
  }
  if (typeof ref === 'string' && /^[0-9a-f]{64}$/.test(ref)) {
    const ix = history.findIndex((v) => v.versionId === ref);
    if (ix < 0) throw new VersionNotFoundError(history[0]!.namespace, history[0]!.key, ref);
    return ix;
  }
  const at = toEpochMs(ref);
  let ix = -1;
  for (let i = 0; i < history.length; i++) if (Date.parse(history[i]!.timestamp) <= at) ix = i;
  if (ix < 0) throw new InvalidArgumentError(`the key had no version at ${new Date(at).toISOString()}`);
  return ix;
}

/** The diff `KoruDelta.diff` answers, between two versions of a key's whole `history` (oldest first). */
export function diffInHistory(namespace: string, key: string, history: readonly Version[], options: DiffOptions = {}): VersionDiff {
  options ??= {};
  const toIx = options.to === undefined ? history.length - 1 : indexOf(history, options.to);
  const fromIx = options.from === undefined ? toIx - 1 : indexOf(history, options.from);
  const to = history[toIx]!;
  const from = fromIx >= 0 ? history[fromIx]! : null;
  const before = from === null || from.deleted ? undefined : from.value;
  const after = to.deleted ? undefined : to.value;
  return Object.freeze({ namespace, key, from, to, changes: Object.freeze(diffValues(before, after)) });
}
