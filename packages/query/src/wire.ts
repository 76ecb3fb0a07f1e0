/**
 * The wire form of a filter: MongoDB-style JSON.
 *
 * ```
 * { status: 'active',                    // a plain value means $eq
 *   age: { $gt: 30, $lte: 65 },           // several operators on one field: all must hold
 *   tags: { $contains: 'x', $all: ['a', 'b'], $size: 2 }, email: { $exists: true },
 *   name: { $regex: '^a', $options: 'i' }, x: { $in: [1, 2] }, y: { $nin: [3] },
 *   items: { $elemMatch: { sku: 'A1', qty: { $gte: 2 } } },   // an element matching a filter
 *   scores: { $elemMatch: { $gte: 80, $lt: 85 } },            // an element meeting operators
 *   n: { $not: { $gt: 3 } },               // the operators do not all hold (or n is missing)
 *   $or: [{ ... }, { ... }], $and: [ ... ], $not: { ... } }
 * ```
 *
 * Several keys in one object are ANDed; `{}` matches everything. A field value that is an
 * object whose keys all start with `$` is an operator object; an object without `$` keys
 * is a literal for $eq; mixing both is an error (use `{ $eq: {...} }` to compare with an
 * object that has `$` keys). Field operators: $eq $ne $gt $gte $lt $lte $contains
 * $exists $regex (or its older name $matches; + $options among `imsu`) $in $nin $all
 * $size $elemMatch $not. Top-level operators: $and $or $not. An `$elemMatch` object made
 * only of field operators (a `$not` in it holding field operators too) applies them to
 * the element itself; otherwise it is a filter over the element (`{}`: any element). A `Filter` made by this package may stand for any filter
 * object (the whole filter, an item of `$and`/`$or`, the operand of `$not` or
 * `$elemMatch`). Anything else is refused with INVALID_QUERY: an unknown `$` operator, an
 * operand of the wrong type, a non-object filter, and an object shaped like a `Filter`
 * that this package did not make (`{ op: 'gt', path, value }` written by hand: use the
 * constructors or the wire form; to match documents with such fields use `$eq`). A
 * marked filter's JSON is its wire form (`JSON.stringify(Filter.gt('age', 18))` is
 * `{"age":{"$gt":18}}`).
 * `toWire(parseFilter(w))` is structurally normalised; `parseFilter(toWire(f))` equals `f`.
 */
import type { JsonValue } from '@koru/engine';
import { at, InvalidQueryError } from './errors.js';
import {
  checkJson,
  checkSize,
  checkValues,
  compileRegex,
  FILTER_MARK,
  FILTER_OPS,
  isFilter,
  type CompareOp,
  type Filter,
} from './filter-ast.js';
import {
  depthLimitError,
  MAX_FILTER_DEPTH,
  MAX_FILTER_NODES,
  MAX_FILTER_PATTERNS,
  MAX_FILTER_VALUES,
  nodesLimitError,
  patternsLimitError,
} from './limits.js';
import { validatePath } from './paths.js';

/** A filter in its wire form (a JSON object). */
export type WireFilter = { readonly [key: string]: JsonValue };

/** Shared by every marked filter: `JSON.stringify(filter)` writes its wire form. */
function filterToJSON(this: Filter): WireFilter {
  return toWire(this);
}

/**
 * The prototype of every marked filter node: the mark, and `toJSON` to the wire form. Non-enumerable.
 * (Calls marked pure, as every top-level constant of this package built by a call: bundlers
 * then drop what a page does not use, and the regex engine with it.)
 */
const FILTER_PROTO: object = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ Object.create(Object.prototype, {
    [FILTER_MARK]: { value: true },
    toJSON: { value: filterToJSON },
  }) as object,
);

/**
 * Marks `node` as a filter made by this package and freezes it (shallowly). Marked
 * filters are told apart from wire-form JSON without guessing (`{ op: 'gt', path: 'age',
 * value: 18 }` written by hand is refused, see the module comment), and turn into their
 * wire form through JSON (a non-enumerable `toJSON`), so they can be sent as they are.
 */
export function filterNode<T extends Filter>(node: T): T {
  // The mark and toJSON live on a shared prototype: defining them on every node cost
  // about 7% of an indexed point query (which parses its filter on every call).
  return Object.freeze(Object.assign(Object.create(FILTER_PROTO) as T, node));
}

/**
 * What one parse has used of the bounds in ./limits.ts. The depth is checked before
 * descending and the counts before building, so a hostile filter is refused after
 * O(limit) work, never by a stack overflow.
 */
class Bounds {
  nodes = 0;
  values = 0;
  patterns = 0;

  /** Counts one filter node at `where`; returns it marked (see {@link filterNode}). */
  node<T extends Filter>(node: T, where: string): T {
    if (++this.nodes > MAX_FILTER_NODES) throw nodesLimitError(where);
    return filterNode(node);
  }

  /** Checks `$in`/`$nin`/`$all`'s operand and counts its values against the filter's total. */
  listValues(operand: unknown, op: string, where: string): asserts operand is readonly JsonValue[] {
    checkValues(operand, op, where, MAX_FILTER_VALUES - this.values);
    this.values += operand.length;
  }
}

/** Throws unless a filter object at `depth` (the whole filter is 1) is within {@link MAX_FILTER_DEPTH}. */
function checkDepth(depth: number, where: string): void {
  if (depth > MAX_FILTER_DEPTH) throw depthLimitError(where);
}

const COMPARE: Readonly<Record<string, CompareOp>> = {
  $eq: 'eq',
  $ne: 'ne',
  $gt: 'gt',
  $gte: 'gte',
  $lt: 'lt',
  $lte: 'lte',
};
const hasOwn = Object.prototype.hasOwnProperty;
/** The keys a `Filter` node can have: a wire object with only these and a known `op` is one that lost its mark. */
const NODE_KEYS = new Set(['op', 'path', 'value', 'values', 'exists', 'pattern', 'flags', 'filters', 'filter', 'size']);

function isPlainObject(v: unknown): v is Readonly<Record<string, JsonValue>> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isOperatorObject(v: unknown): v is Readonly<Record<string, JsonValue>> {
  if (!isPlainObject(v) || isFilter(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

/** Only field operators (`$and`/`$or` are filter operators; a `$not` must hold field operators too). */
function isFieldOperatorObject(v: unknown): v is Readonly<Record<string, JsonValue>> {
  // A loop, not recursion: the chain of `$not`s is as long as the (not yet checked) input makes it.
  for (let x = v; ; x = (x as Record<string, unknown>).$not) {
    if (!isOperatorObject(x) || hasOwn.call(x, '$and') || hasOwn.call(x, '$or')) return false;
    if (!hasOwn.call(x, '$not')) return true;
  }
}

function combine(parts: Filter[], b: Bounds, where: string): Filter {
  return parts.length === 1 ? parts[0]! : b.node({ op: 'and', filters: Object.freeze(parts) }, where);
}

function parseList(v: unknown, where: string, op: string, depth: number, b: Bounds): Filter[] {
  if (!Array.isArray(v)) throw new InvalidQueryError(`${op} needs an array of filter objects`, where);
  return v.map((item, i) => parseAt(item, at(where, i), depth, b));
}

function frozenCopy(values: readonly JsonValue[]): readonly JsonValue[] {
  return Object.freeze([...values]);
}

/** The operand of `$elemMatch`: operator conditions on the element itself, or a filter over it. */
function parseElem(operand: unknown, where: string, depth: number, b: Bounds): Filter {
  if (isFilter(operand)) return operand;
  if (!isPlainObject(operand)) throw new InvalidQueryError('$elemMatch needs an object: a filter, or operators for the element itself', where);
  if (isFieldOperatorObject(operand)) return parseField('', operand, where, depth, b);
  return parseAt(operand, where, depth, b);
}

/** The conditions `spec` puts on `path`; `depth` is the level of the filter object holding them. */
function parseField(path: string, spec: JsonValue, where: string, depth: number, b: Bounds): Filter {
  if (isFilter(spec)) {
    throw new InvalidQueryError('a Filter cannot be the value of a field: use it as the whole filter (or inside $and/$or/$not)', where);
  }
  const keys = isPlainObject(spec) ? Object.keys(spec) : [];
  const ops = keys.filter((k) => k.startsWith('$'));
  if (!isPlainObject(spec) || ops.length === 0) {
    checkJson(spec, where);
    return b.node({ op: 'eq', path, value: spec }, where);
  }
  if (ops.length !== keys.length) {
    throw new InvalidQueryError('an operator object cannot mix $-operators and plain keys (use $eq)', where);
  }
  const hasRegex = hasOwn.call(spec, '$regex');
  const hasMatches = hasOwn.call(spec, '$matches');
  if (hasRegex && hasMatches) throw new InvalidQueryError('use $regex or $matches, not both', where);
  const parts: Filter[] = [];
  for (const op of keys) {
    const operand = spec[op]!;
    const here = at(where, op);
    const cmp = hasOwn.call(COMPARE, op) ? COMPARE[op] : undefined;
    if (cmp !== undefined) {
      checkJson(operand, here);
      parts.push(b.node({ op: cmp, path, value: operand }, here));
      continue;
    }
    switch (op) {
      case '$contains':
        checkJson(operand, here);
        parts.push(b.node({ op: 'contains', path, value: operand }, here));
        break;
      case '$exists':
        if (typeof operand !== 'boolean') throw new InvalidQueryError('$exists needs true or false', here);
        parts.push(b.node({ op: 'exists', path, exists: operand }, here));
        break;
      case '$in':
      case '$nin':
        b.listValues(operand, op, here);
        parts.push(b.node({ op: op === '$in' ? 'in' : 'nin', path, values: frozenCopy(operand) }, here));
        break;
      case '$all':
        b.listValues(operand, op, here);
        operand.forEach((v, i) => {
          // MongoDB reads `$all: [{ $elemMatch: ... }]` as conditions; here it would be a literal: refuse.
          if (isOperatorObject(v)) throw new InvalidQueryError('$all takes values, not operator objects (use $and of $elemMatch)', at(here, i));
        });
        parts.push(b.node({ op: 'all', path, values: frozenCopy(operand) }, here));
        break;
      case '$size':
        checkSize(operand, here);
        parts.push(b.node({ op: 'size', path, size: operand }, here));
        break;
      case '$regex':
      case '$matches': {
        if (++b.patterns > MAX_FILTER_PATTERNS) throw patternsLimitError(here);
        const flags = hasOwn.call(spec, '$options') ? spec.$options : undefined;
        compileRegex(operand, flags, here, op);
        parts.push(
          b.node(
            flags === undefined
              ? { op: 'matches', path, pattern: operand as string }
              : { op: 'matches', path, pattern: operand as string, flags: flags as string },
            here,
          ),
        );
        break;
      }
      case '$options':
        if (!hasRegex && !hasMatches) throw new InvalidQueryError('$options needs $regex', here);
        break;
      case '$elemMatch':
        checkDepth(depth + 1, here);
        parts.push(b.node({ op: 'elemMatch', path, filter: parseElem(operand, here, depth + 1, b) }, here));
        break;
      case '$not':
        if (!isOperatorObject(operand)) {
          throw new InvalidQueryError('$not on a field needs an operator object, such as { $not: { $gt: 3 } }', here);
        }
        checkDepth(depth + 1, here);
        parts.push(b.node({ op: 'not', filter: parseField(path, operand, here, depth + 1, b) }, here));
        break;
      default:
        throw new InvalidQueryError(`unknown operator "${op}"`, here);
    }
  }
  return combine(parts, b, where);
}

/** A `Filter` that lost its mark (hand-written, or through JSON) would silently match nothing as wire JSON: refuse it. */
function refuseUnmarkedNode(json: Readonly<Record<string, JsonValue>>, where: string): void {
  const op = json.op;
  if (typeof op !== 'string' || !FILTER_OPS.has(op)) return;
  for (const k of Object.keys(json)) if (!NODE_KEYS.has(k)) return;
  throw new InvalidQueryError(
    `this looks like a Filter object ({ op: ${JSON.stringify(op)}, ... }) that was not made by Filter.${op}(...): ` +
      'pass the Filter itself, or its wire form (toWire), such as { age: { $gt: 18 } }; ' +
      'to match documents with fields named op/path/value, write { op: { $eq: ... } }',
    where,
  );
}

/** The filter object `json` at level `depth` (the whole filter is 1). */
function parseAt(json: unknown, where: string, depth: number, b: Bounds): Filter {
  checkDepth(depth, where);
  if (isFilter(json)) return json;
  if (!isPlainObject(json)) throw new InvalidQueryError('a filter must be a JSON object', where);
  refuseUnmarkedNode(json, where);
  const parts: Filter[] = [];
  for (const key of Object.keys(json)) {
    const here = at(where, key);
    const v = json[key]!;
    if (key === '$and') parts.push(b.node({ op: 'and', filters: Object.freeze(parseList(v, here, key, depth + 1, b)) }, here));
    else if (key === '$or') parts.push(b.node({ op: 'or', filters: Object.freeze(parseList(v, here, key, depth + 1, b)) }, here));
    else if (key === '$not') parts.push(b.node({ op: 'not', filter: parseAt(v, here, depth + 1, b) }, here));
    else if (key.startsWith('$')) throw new InvalidQueryError(`unknown operator "${key}"`, here);
    else {
      validatePath(key, here);
      parts.push(parseField(key, v, here, depth, b));
    }
  }
  return parts.length === 0 ? b.node({ op: 'and', filters: Object.freeze([]) }, where) : combine(parts, b, where);
}

/**
 * Parses the wire form (or takes a `Filter` made by this package as it is) into a
 * {@link Filter}, throwing an {@link InvalidQueryError} whose `details.path` is the
 * location in `json` (`$or.1.age.$gt`). O(size of `json`). The bounds of ./limits.ts
 * (depth, nodes, `$in`/`$nin`/`$all` values, pattern length) hold for what is parsed here;
 * `compileFilter` checks them over a whole filter, `Filter`s held inside included.
 */
export function parseFilter(json: unknown): Filter {
  return parseAt(json, '', 1, new Bounds());
}

function fieldWire(path: string, spec: JsonValue): WireFilter {
  const out: Record<string, JsonValue> = {};
  // defineProperty: a path named `__proto__` must become an own key, not a prototype change.
  Object.defineProperty(out, path, { value: spec, enumerable: true, writable: true, configurable: true });
  return out;
}

/** The operator object of a condition on one field (`{ $gt: 3 }`); eq as `{ $eq: v }`. */
function operatorWire(filter: Filter): Record<string, JsonValue> | undefined {
  switch (filter.op) {
    case 'and':
    case 'or':
    case 'not':
      return undefined;
    case 'exists':
      return { $exists: filter.exists };
    case 'in':
    case 'nin':
    case 'all':
      return { [`$${filter.op}`]: [...filter.values] };
    case 'size':
      return { $size: filter.size };
    case 'matches':
      return filter.flags === undefined ? { $matches: filter.pattern } : { $matches: filter.pattern, $options: filter.flags };
    case 'elemMatch':
      return { $elemMatch: elemWire(filter.filter) };
    default:
      return { [`$${filter.op}`]: filter.value };
  }
}

/** Conditions on the element itself (paths `''`) as one operator object, or undefined when they are not that. */
function selfWire(filter: Filter): Record<string, JsonValue> | undefined {
  if (filter.op === 'not') {
    const inner = selfWire(filter.filter);
    return inner === undefined ? undefined : { $not: inner };
  }
  if ('filters' in filter) {
    if (filter.op === 'or' || filter.filters.length === 0) return undefined;
    const out: Record<string, JsonValue> = {};
    for (const f of filter.filters) {
      const part = selfWire(f);
      if (part === undefined) return undefined;
      for (const k of Object.keys(part)) {
        if (hasOwn.call(out, k)) return undefined;
        out[k] = part[k]!;
      }
    }
    return out;
  }
  if (filter.path !== '') return undefined;
  return operatorWire(filter);
}

function elemWire(filter: Filter): WireFilter {
  return selfWire(filter) ?? toWire(filter);
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
    default:
      return fieldWire(filter.path, operatorWire(filter)!);
  }
}
