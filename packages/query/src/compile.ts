/**
 * `compileFilter`: turns a {@link Filter} into a predicate once — paths split, regexes
 * built, `in` sets prepared — so evaluating a document walks closures, not the tree.
 */
import type { JsonValue } from '@koru/engine';
import { at, InvalidQueryError } from './errors.js';
import { checkSize, checkValues, compileRegex, type Filter } from './filter-ast.js';
import {
  depthLimitError,
  MAX_FILTER_DEPTH,
  MAX_FILTER_NODES,
  MAX_FILTER_PATTERNS,
  MAX_FILTER_VALUES,
  nodesLimitError,
  patternsLimitError,
} from './limits.js';
import { jsonEquals, compareJson } from './order.js';
import { compileGetter, type Lookup } from './paths.js';

/** A compiled filter: true when the document matches. */
export type Predicate = (doc: JsonValue) => boolean;

const TRUE: Predicate = () => true;
const FALSE: Predicate = () => false;

function isPrimitive(v: Lookup): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}

function compileIn(get: (d: Lookup) => Lookup, values: readonly JsonValue[]): Predicate {
  // Primitives are looked up in a Set (O(1)); only compound operands need a deep scan.
  const prims = new Set<string | number | boolean | null>();
  const compound: JsonValue[] = [];
  for (const v of values) {
    if (isPrimitive(v)) prims.add(v === 0 ? 0 : v);
    else compound.push(v);
  }
  return (doc) => {
    const v = get(doc);
    if (v === undefined) return false;
    if (isPrimitive(v)) return prims.has(v);
    for (const c of compound) if (jsonEquals(v, c)) return true;
    return false;
  };
}

function compileContains(get: (d: Lookup) => Lookup, value: JsonValue): Predicate {
  return (doc) => {
    const v = get(doc);
    if (typeof v === 'string') return typeof value === 'string' && v.includes(value);
    if (Array.isArray(v)) {
      for (const el of v as readonly JsonValue[]) if (jsonEquals(el, value)) return true;
    }
    return false;
  };
}

function compileAll(get: (d: Lookup) => Lookup, values: readonly JsonValue[]): Predicate {
  if (values.length === 0) return FALSE;
  return (doc) => {
    const v = get(doc);
    if (!Array.isArray(v)) return false;
    const els = v as readonly JsonValue[];
    for (const want of values) {
      let found = false;
      if (isPrimitive(want)) {
        for (let i = 0; i < els.length && !found; i++) found = els[i] === want;
      } else {
        for (let i = 0; i < els.length && !found; i++) found = jsonEquals(els[i], want);
      }
      if (!found) return false;
    }
    return true;
  };
}

const SELF = (doc: Lookup): Lookup => doc;

/** What a compilation has used of the bounds in ./limits.ts (a `Filter` built in code never went through the parser). */
interface Used {
  nodes: number;
  values: number;
  patterns: number;
}

function checkBounds(depth: number, used: Used, where: string): void {
  if (depth > MAX_FILTER_DEPTH) throw depthLimitError(where);
  if (++used.nodes > MAX_FILTER_NODES) throw nodesLimitError(where);
}

/** `elem`: inside an `elemMatch`, where the path `''` is the element itself. `depth`: the node's level (the root is 1). */
function compileNode(f: Filter, where: string, elem: boolean, depth: number, used: Used): Predicate {
  if (f === null || typeof f !== 'object') throw new InvalidQueryError('a filter must be an object', where);
  checkBounds(depth, used, where);
  switch (f.op) {
    case 'and':
    case 'or': {
      if (!Array.isArray(f.filters)) throw new InvalidQueryError(`${f.op} needs an array of filters`, where);
      const ps = f.filters.map((g, i) => compileNode(g, at(at(where, 'filters'), i), elem, depth + 1, used));
      if (ps.length === 0) return f.op === 'and' ? TRUE : FALSE;
      if (ps.length === 1) return ps[0]!;
      return f.op === 'and' ? (doc) => ps.every((p) => p(doc)) : (doc) => ps.some((p) => p(doc));
    }
    case 'not': {
      const p = compileNode(f.filter, at(where, 'filter'), elem, depth + 1, used);
      return (doc) => !p(doc);
    }
    default:
      break;
  }
  const get = elem && f.path === '' ? SELF : compileGetter(f.path, at(where, 'path'));
  switch (f.op) {
    case 'eq': {
      const value = f.value;
      return isPrimitive(value) ? (doc) => get(doc) === value : (doc) => jsonEquals(get(doc), value);
    }
    case 'ne': {
      const value = f.value;
      return isPrimitive(value) ? (doc) => get(doc) !== value : (doc) => !jsonEquals(get(doc), value);
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      // One closure per operator, with no inner call: this runs once per scanned document.
      const value = f.value;
      switch (f.op) {
        case 'gt':
          return (doc) => {
            const v = get(doc);
            return v !== undefined && compareJson(v, value) > 0;
          };
        case 'gte':
          return (doc) => {
            const v = get(doc);
            return v !== undefined && compareJson(v, value) >= 0;
          };
        case 'lt':
          return (doc) => {
            const v = get(doc);
            return v !== undefined && compareJson(v, value) < 0;
          };
        default:
          return (doc) => {
            const v = get(doc);
            return v !== undefined && compareJson(v, value) <= 0;
          };
      }
    }
    case 'contains':
      return compileContains(get, f.value);
    case 'exists':
      return f.exists === false ? (doc) => get(doc) === undefined : (doc) => get(doc) !== undefined;
    case 'matches': {
      if (++used.patterns > MAX_FILTER_PATTERNS) throw patternsLimitError(where);
      const re = compileRegex(f.pattern, f.flags, f.path);
      return (doc) => {
        const v = get(doc);
        return typeof v === 'string' && re.test(v);
      };
    }
    case 'in':
    case 'nin': {
      checkValues(f.values, f.op, at(where, 'values'), MAX_FILTER_VALUES - used.values);
      used.values += f.values.length;
      const p = compileIn(get, f.values);
      return f.op === 'in' ? p : (doc) => !p(doc);
    }
    case 'all':
      checkValues(f.values, f.op, at(where, 'values'), MAX_FILTER_VALUES - used.values);
      used.values += f.values.length;
      return compileAll(get, f.values);
    case 'size': {
      checkSize(f.size, at(where, 'size'));
      const n = f.size;
      return (doc) => {
        const v = get(doc);
        return Array.isArray(v) && v.length === n;
      };
    }
    case 'elemMatch': {
      const p = compileNode(f.filter, at(where, 'filter'), true, depth + 1, used);
      return (doc) => {
        const v = get(doc);
        if (!Array.isArray(v)) return false;
        for (const el of v as readonly JsonValue[]) if (p(el)) return true;
        return false;
      };
    }
    default:
      throw new InvalidQueryError(`unknown filter op "${String((f as { op: unknown }).op)}"`, where);
  }
}

/**
 * Compiles `filter` into a predicate (semantics in ./filter-ast.ts), validating it (paths, operands, regexes,
 * and the bounds of ./limits.ts over the whole tree) first; throws an {@link InvalidQueryError} for a malformed filter. O(filter size) once; each
 * call then costs O(work the operators do on that document).
 */
export function compileFilter(filter: Filter): Predicate {
  return compileNode(filter, '', false, 1, { nodes: 0, values: 0, patterns: 0 });
}
