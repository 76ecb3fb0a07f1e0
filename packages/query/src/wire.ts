/**
 * The wire form of a filter: MongoDB-style JSON.
 *
 * ```
 * { status: 'active',                    // a plain value means $eq
 *   age: { $gt: 30, $lte: 65 },           // several operators on one field: all must hold
 *   tags: { $contains: 'x' }, email: { $exists: true },
 *   name: { $matches: '^a', $options: 'i' }, x: { $in: [1, 2] }, y: { $ne: 3 },
 *   $or: [{ ... }, { ... }], $and: [ ... ], $not: { ... } }
 * ```
 *
 * Several keys in one object are ANDed; `{}` matches everything. A field value that is an
 * object whose keys all start with `$` is an operator object; an object without `$` keys
 * is a literal for $eq; mixing both is an error (use `{ $eq: {...} }` to compare with an
 * object that has `$` keys). Field operators: $eq $ne $gt $gte $lt $lte $contains
 * $exists $matches (+ $options) $in. Top-level operators: $and $or $not.
 * `toWire(parseFilter(w))` is structurally normalised; `parseFilter(toWire(f))` equals `f`.
 */
import type { JsonValue } from '@koru/engine';
import { at, InvalidQueryError } from './errors.js';
import { compileRegex, type CompareOp, type Filter } from './filter.js';
import { validatePath } from './paths.js';

/** A filter in its wire form (a JSON object). */
export type WireFilter = { readonly [key: string]: JsonValue };

const COMPARE: Readonly<Record<string, CompareOp>> = {
  $eq: 'eq',
  $ne: 'ne',
  $gt: 'gt',
  $gte: 'gte',
  $lt: 'lt',
  $lte: 'lte',
};
const hasOwn = Object.prototype.hasOwnProperty;

function isPlainObject(v: unknown): v is Readonly<Record<string, JsonValue>> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function combine(parts: Filter[]): Filter {
  return parts.length === 1 ? parts[0]! : { op: 'and', filters: parts };
}

function parseList(v: unknown, where: string, op: string): Filter[] {
  if (!Array.isArray(v)) throw new InvalidQueryError(`${op} needs an array of filter objects`, where);
  return v.map((item, i) => parseAt(item, at(where, i)));
}

function parseField(path: string, spec: JsonValue, where: string): Filter {
  if (!isPlainObject(spec)) return { op: 'eq', path, value: spec };
  const keys = Object.keys(spec);
  const ops = keys.filter((k) => k.startsWith('$'));
  if (ops.length === 0) return { op: 'eq', path, value: spec };
  if (ops.length !== keys.length) {
    throw new InvalidQueryError('an operator object cannot mix $-operators and plain keys (use $eq)', where);
  }
  const parts: Filter[] = [];
  for (const op of keys) {
    const operand = spec[op]!;
    const here = at(where, op);
    const cmp = hasOwn.call(COMPARE, op) ? COMPARE[op] : undefined;
    if (cmp !== undefined) {
      parts.push({ op: cmp, path, value: operand });
    } else if (op === '$contains') {
      parts.push({ op: 'contains', path, value: operand });
    } else if (op === '$exists') {
      if (typeof operand !== 'boolean') throw new InvalidQueryError('$exists needs true or false', here);
      parts.push({ op: 'exists', path, exists: operand });
    } else if (op === '$in') {
      if (!Array.isArray(operand)) throw new InvalidQueryError('$in needs an array', here);
      parts.push({ op: 'in', path, values: operand });
    } else if (op === '$matches') {
      const flags = hasOwn.call(spec, '$options') ? spec.$options : undefined;
      compileRegex(operand, flags, here);
      parts.push(
        flags === undefined
          ? { op: 'matches', path, pattern: operand as string }
          : { op: 'matches', path, pattern: operand as string, flags: flags as string },
      );
    } else if (op === '$options') {
      if (!hasOwn.call(spec, '$matches')) throw new InvalidQueryError('$options needs $matches', here);
    } else {
      throw new InvalidQueryError(`unknown operator "${op}"`, here);
    }
  }
  return combine(parts);
}

function parseAt(json: unknown, where: string): Filter {
  if (!isPlainObject(json)) throw new InvalidQueryError('a filter must be a JSON object', where);
  const parts: Filter[] = [];
  for (const key of Object.keys(json)) {
    const here = at(where, key);
    const v = json[key]!;
    if (key === '$and') parts.push({ op: 'and', filters: parseList(v, here, key) });
    else if (key === '$or') parts.push({ op: 'or', filters: parseList(v, here, key) });
    else if (key === '$not') parts.push({ op: 'not', filter: parseAt(v, here) });
    else if (key.startsWith('$')) throw new InvalidQueryError(`unknown operator "${key}"`, here);
    else {
      validatePath(key, here);
      parts.push(parseField(key, v, here));
    }
  }
  return parts.length === 0 ? { op: 'and', filters: [] } : combine(parts);
}

/**
 * Parses the wire form into a {@link Filter}, throwing an {@link InvalidQueryError} whose
 * `details.path` is the location in `json` (`$or.1.age.$gt`). O(size of `json`).
 */
export function parseFilter(json: unknown): Filter {
  return parseAt(json, '');
}

function fieldWire(path: string, spec: JsonValue): WireFilter {
  const out: Record<string, JsonValue> = {};
  // defineProperty: a path named `__proto__` must become an own key, not a prototype change.
  Object.defineProperty(out, path, { value: spec, enumerable: true, writable: true, configurable: true });
  return out;
}

/** The wire form of `filter` (see the module comment); `parseFilter` reads it back as `filter`. */
export function toWire(filter: Filter): WireFilter {
  switch (filter.op) {
    case 'and':
      return { $and: filter.filters.map(toWire) };
    case 'or':
      return { $or: filter.filters.map(toWire) };
    case 'not':
      return { $not: toWire(filter.filter) };
    case 'eq':
      return fieldWire(filter.path, isPlainObject(filter.value) ? { $eq: filter.value } : filter.value);
    case 'exists':
      return fieldWire(filter.path, { $exists: filter.exists });
    case 'in':
      return fieldWire(filter.path, { $in: filter.values });
    case 'matches':
      return fieldWire(
        filter.path,
        filter.flags === undefined ? { $matches: filter.pattern } : { $matches: filter.pattern, $options: filter.flags },
      );
    default:
      return fieldWire(filter.path, { [`$${filter.op}`]: filter.value });
  }
}
