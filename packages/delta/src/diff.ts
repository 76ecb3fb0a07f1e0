/**
 * Structural diff of two JSON values: which paths were added, removed or changed.
 * Paths are JSON Pointers (RFC 6901), so keys containing `.` or `/` stay unambiguous.
 * Objects are compared key by key and arrays index by index; a change of type at a
 * path is one `changed` entry. O(size of both values).
 */
import type { JsonValue } from '@koru/engine';

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
