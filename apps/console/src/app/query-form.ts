/**
 * The query editor's fields turned into a query's wire form (what `client.query` and
 * `createView` take): the filter from the expression language (@koru/query's syntax
 * step, whose errors name a column; the server checks the rest, such as a regular
 * expression's own syntax), the rest from short texts. A field that cannot be read is
 * refused with the field named, never guessed.
 */
import type { JsonValue } from '@koru/client';
import { parseFilterSyntax } from '@koru/query/filter-expression';

/** The editor's fields, as typed. */
export interface QueryFields {
  readonly filter: string;
  /** `name, age:desc` */
  readonly sort: string;
  /** `name, address.city` */
  readonly select: string;
  readonly limit: string;
  readonly offset: string;
  /** '' (list documents), or an aggregation's op. */
  readonly op: '' | 'count' | 'sum' | 'avg' | 'min' | 'max' | 'distinct';
  readonly field: string;
  readonly groupBy: string;
}

export const EMPTY_FIELDS: QueryFields = { filter: '', sort: '', select: '', limit: '50', offset: '', op: '', field: '', groupBy: '' };

/** A field the editor could not read: which one, what is wrong, and (for the filter) the column. */
export interface FieldProblem {
  readonly field: keyof QueryFields;
  readonly message: string;
  readonly column?: number;
}

/** The wire query and the aggregation (kept apart: a view takes them apart), or the problem. */
export type Built = { readonly ok: true; readonly query: { readonly [k: string]: JsonValue }; readonly aggregate?: { readonly [k: string]: JsonValue } } | { readonly ok: false; readonly problem: FieldProblem };

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function count(text: string, field: 'limit' | 'offset'): number | FieldProblem | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) return { field, message: `${field} is a whole number, 0 or more` };
  return Number(t);
}

/**
 * The wire form of a filter expression as typed (none for blank text), or what is wrong
 * with it and at which column. Used by the query editor and the live feed's filter.
 */
export function parseFilterText(text: string): { readonly ok: true; readonly filter?: JsonValue } | { readonly ok: false; readonly problem: FieldProblem } {
  if (text.trim() === '') return { ok: true };
  try {
    return { ok: true, filter: parseFilterSyntax(text, 'filter') as JsonValue };
  } catch (e) {
    const column = (e as { column?: unknown }).column;
    return { ok: false, problem: { field: 'filter', message: e instanceof Error ? e.message : String(e), ...(typeof column === 'number' ? { column } : {}) } };
  }
}

/** Builds the query of `f`. */
export function buildQuery(f: QueryFields): Built {
  const query: Record<string, JsonValue> = {};
  const filter = parseFilterText(f.filter);
  if (!filter.ok) return filter;
  if (filter.filter !== undefined) query.filter = filter.filter;
  let aggregate: { [k: string]: JsonValue } | undefined;
  if (f.op !== '') {
    const path = f.field.trim();
    if (f.op !== 'count' && path === '') return { ok: false, problem: { field: 'field', message: `${f.op} needs a field` } };
    const inner: { [k: string]: JsonValue } = path === '' ? { op: f.op } : { op: f.op, path };
    aggregate = f.groupBy.trim() === '' ? inner : { op: 'groupBy', path: f.groupBy.trim(), aggregation: inner };
    // An aggregation reduces every match: sort, select, offset and limit do not apply.
    return { ok: true, query, aggregate };
  }
  if (f.groupBy.trim() !== '') return { ok: false, problem: { field: 'groupBy', message: 'group by needs an aggregation (count, sum, ...)' } };
  const sort: JsonValue[] = [];
  for (const part of list(f.sort)) {
    const m = /^(.+?)(?::(asc|desc))?$/.exec(part);
    if (m === null || m[1]!.includes(':')) return { ok: false, problem: { field: 'sort', message: `"${part}" is not FIELD or FIELD:asc or FIELD:desc` } };
    sort.push([m[1]!.trim(), m[2] ?? 'asc']);
  }
  if (sort.length > 0) query.sort = sort;
  const select = list(f.select);
  if (select.length > 0) query.select = select;
  for (const k of ['limit', 'offset'] as const) {
    const n = count(f[k], k);
    if (typeof n === 'object') return { ok: false, problem: n };
    if (n !== undefined) query[k] = n;
  }
  return { ok: true, query };
}
