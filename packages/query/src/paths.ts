/**
 * Dotted paths into JSON documents: `address.city`, `items.0.sku`.
 *
 * A segment names an own property of an object, or a canonical index (`0`, `17`, not
 * `01`) of an array. Inherited properties are never read: `__proto__`, `constructor` and
 * `toString` address the document's own data only, so a path can neither read nor write
 * `Object.prototype`. Keys containing `.` cannot be addressed. A path is non-empty, has
 * no empty segment and does not start with `$` (reserved for operators on the wire).
 */
import type { JsonValue } from '@koru/engine';
import { InvalidQueryError } from './errors.js';

/** A value at a path, or `undefined` when the path does not exist in the document. */
export type Lookup = JsonValue | undefined;

const INDEX = /^(?:0|[1-9][0-9]*)$/;
const hasOwn = Object.prototype.hasOwnProperty;

/** Throws an {@link InvalidQueryError} at `where` unless `path` is a valid dotted path. */
export function validatePath(path: unknown, where: string): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidQueryError('a field path must be a non-empty string', where);
  }
  if (path.startsWith('$')) throw new InvalidQueryError(`field path "${path}" must not start with "$"`, where);
  if (path.split('.').some((s) => s.length === 0)) {
    throw new InvalidQueryError(`field path "${path}" has an empty segment`, where);
  }
}

/** Splits a validated path into segments. */
export function splitPath(path: string, where: string = path): readonly string[] {
  validatePath(path, where);
  return path.split('.');
}

/** The own child of `container` named `segment`, or `undefined`. O(1). */
export function child(container: Lookup, segment: string): Lookup {
  if (container === null || typeof container !== 'object') return undefined;
  if (Array.isArray(container)) {
    if (!INDEX.test(segment)) return undefined;
    const i = Number(segment);
    return i < container.length ? (container[i] as JsonValue) : undefined;
  }
  if (segment === '__proto__') return hasOwn.call(container, segment) ? (container as Record<string, JsonValue>)[segment] : undefined;
  // JSON objects hold no functions, and the only inherited non-function property of a
  // plain object is __proto__ (handled above): a function here is inherited, not data.
  const v = (container as Record<string, JsonValue>)[segment];
  return typeof v === 'function' ? undefined : v;
}

/** The value at `segments` in `doc`, or `undefined`. O(segments). */
export function getAt(doc: Lookup, segments: readonly string[]): Lookup {
  let v = doc;
  for (let i = 0; i < segments.length && v !== undefined; i++) v = child(v, segments[i]!);
  return v;
}

/** A reader for one path, split once: call it per document. */
export function compileGetter(path: string, where: string = path): (doc: Lookup) => Lookup {
  const segments = splitPath(path, where);
  if (segments.length === 1) {
    const only = segments[0]!;
    return (doc) => child(doc, only);
  }
  return (doc) => getAt(doc, segments);
}
