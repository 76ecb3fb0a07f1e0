/**
 * Filters pushed down to SQL. The part of a query's filter that SQL can say is turned
 * into a WHERE condition on the heads' `jsonb` documents; PostgreSQL then returns only
 * candidates, through a secondary index when one covers the field. The condition is a
 * superset of the filter's answer, never less: every candidate is checked again in the
 * process with @koru/query's own matcher, so the answer is exactly the embedded
 * engine's. `complete` says when the SQL condition is the whole filter (the check in the
 * process then only confirms it).
 *
 * What goes down: eq, ne, in, nin and exists on any value; gt/gte/lt/lte on a number, or
 * on a string of characters below U+D800 (where UTF-8 byte order, the "C" collation's,
 * agrees with JavaScript's UTF-16 order) of at most 400 characters; and/or/not of those.
 * KoruDelta's total order across types (null < numbers < strings < booleans < arrays <
 * objects) is the rank column of the index (koru_rank in ./schema.ts), so `age > 30`
 * keeps matching strings, as embedded. The rest (contains, matches, all, size,
 * elemMatch, ranges on other values) runs in the process.
 */
import type { JsonValue } from '@koru/engine';
import type { Filter } from '@koru/query';

/** One field's index expression columns, and what a condition on the field needs. */
export interface PushedFilter {
  /** The WHERE condition (parameters from `$${first}` on). */
  readonly sql: string;
  readonly params: readonly unknown[];
  /** True when `sql` is the whole filter. */
  readonly complete: boolean;
  /** The fields the condition reads (a secondary index on one may serve it). */
  readonly fields: readonly string[];
}

/** Longest string an index entry keeps (koru_str). */
export const INDEXED_STRING_CHARS = 400;

/** A SQL string literal (doubling quotes; an E'' literal when there are backslashes). */
export function sqlLiteral(s: string): string {
  const quoted = s.replace(/'/g, "''");
  return s.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

const INDEX_SEGMENT = /^(?:0|[1-9][0-9]*)$/;
// What PostgreSQL's `#>` reads as an array position (strtoint: blanks and a sign allowed).
const PG_NUMERIC_SEGMENT = /^\s*[+-]?[0-9]+$/;

/**
 * The jsonb expression of a dotted path: `doc #> '{a,b}'`, PostgreSQL's own (fast) reading,
 * which is @koru/query's; or `koru_path(doc, '{a,b}')` (./schema.ts) when a segment is one
 * `#>` would read as an array position where @koru/query reads none (`-1`, `01`, `+1`).
 */
export function pathExpression(path: string, doc = 'doc'): string {
  const segments = path.split('.');
  const array = sqlLiteral(`{${segments.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`);
  if (segments.some((s) => PG_NUMERIC_SEGMENT.test(s) && !INDEX_SEGMENT.test(s))) return `koru_path(${doc}, ${array}::text[])`;
  return `(${doc} #> ${array}::text[])`;
}

/** The columns of a field's secondary index (see koru_rank, koru_num, koru_str). */
export function indexColumns(x: string): string {
  return `koru_rank(${x}), koru_num(${x}), koru_str(${x}) COLLATE "C"`;
}

interface Part {
  readonly sql: string;
  readonly exact: boolean;
}

/** A string whose order is the same in UTF-8 bytes and in UTF-16 code units, and that jsonb can hold. */
function orderSafeString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c >= 0xd800) return false;
  }
  return s.length <= INDEXED_STRING_CHARS;
}

/** Builds the condition, collecting parameters. */
class Compiler {
  readonly params: unknown[] = [];
  readonly fields: string[] = [];
  readonly #first: number;
  readonly #doc: string;

  constructor(first: number, doc: string) {
    this.#first = first;
    this.#doc = doc;
  }

  #param(v: unknown, type: string): string {
    this.params.push(v);
    return `$${this.#first + this.params.length - 1}::${type}`;
  }

  #eq(x: string, v: JsonValue): Part | undefined {
    if (typeof v === 'number') return { sql: `(koru_rank(${x}) = 1 AND koru_num(${x}) = ${this.#param(JSON.stringify(v), 'numeric')})`, exact: true };
    const text = JSON.stringify(v);
    // jsonb holds no U+0000: such an operand stays in the process.
    if (text.includes('\\u0000')) return undefined;
    if (typeof v === 'string' && orderSafeString(v)) {
      return {
        sql: `(koru_rank(${x}) = 2 AND koru_num(${x}) IS NULL AND koru_str(${x}) COLLATE "C" = ${this.#param(v, 'text')} AND ${x} = ${this.#param(text, 'jsonb')})`,
        exact: true,
      };
    }
    return { sql: `(${x} = ${this.#param(text, 'jsonb')})`, exact: true };
  }

  #range(x: string, op: 'gt' | 'gte' | 'lt' | 'lte', v: JsonValue): Part | undefined {
    const sym = op === 'gt' ? '>' : op === 'gte' ? '>=' : op === 'lt' ? '<' : '<=';
    if (typeof v === 'number') {
      // Row order: the rank first, so other types fall where the total order puts them;
      // a missing field has no rank, and the comparison is then not true.
      return { sql: `((koru_rank(${x}), koru_num(${x})) ${sym} (1, ${this.#param(JSON.stringify(v), 'numeric')}))`, exact: true };
    }
    if (typeof v === 'string' && orderSafeString(v)) {
      // A string longer than the index keeps sorts as its cut at or after the bound:
      // widened to >= / <=, and checked again in the process.
      const wide = sym.startsWith('>') ? '>=' : '<=';
      const s = this.#param(v, 'text');
      const above = sym.startsWith('>');
      return {
        sql: `(koru_rank(${x}) ${above ? '>' : '<'} 2 OR (koru_rank(${x}) = 2 AND koru_str(${x}) COLLATE "C" ${wide} ${s}))`,
        exact: false,
      };
    }
    return undefined;
  }

  /** `f`'s condition; undefined (with every parameter it took given back) when it cannot go down. */
  compile(f: Filter): Part | undefined {
    const params = this.params.length;
    const fields = this.fields.length;
    const part = this.#node(f);
    if (part === undefined) {
      this.params.length = params;
      this.fields.length = fields;
    }
    return part;
  }

  #node(f: Filter): Part | undefined {
    switch (f.op) {
      case 'eq':
      case 'ne': {
        const x = this.#path(f.path);
        const p = x === undefined ? undefined : this.#eq(x, f.value);
        if (p === undefined) return undefined;
        return f.op === 'eq' ? p : { sql: `(${p.sql} IS NOT TRUE)`, exact: true };
      }
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        const x = this.#path(f.path);
        return x === undefined ? undefined : this.#range(x, f.op, f.value);
      }
      case 'in':
      case 'nin': {
        const x = this.#path(f.path);
        if (x === undefined) return undefined;
        const parts: Part[] = [];
        for (const v of f.values) {
          const p = this.#eq(x, v);
          if (p === undefined) return undefined;
          parts.push(p);
        }
        const any = parts.length === 0 ? 'false' : `(${parts.map((p) => p.sql).join(' OR ')})`;
        return f.op === 'in' ? { sql: any, exact: true } : { sql: `(${any} IS NOT TRUE)`, exact: true };
      }
      case 'exists': {
        const x = this.#path(f.path);
        return x === undefined ? undefined : { sql: `(${x} IS ${f.exists ? 'NOT ' : ''}NULL)`, exact: true };
      }
      case 'and': {
        const parts = f.filters.map((c) => this.compile(c));
        const pushed = parts.filter((p): p is Part => p !== undefined);
        if (pushed.length === 0) return undefined;
        return { sql: `(${pushed.map((p) => p.sql).join(' AND ')})`, exact: pushed.length === parts.length && pushed.every((p) => p.exact) };
      }
      case 'or': {
        if (f.filters.length === 0) return { sql: 'false', exact: true };
        const parts: Part[] = [];
        for (const c of f.filters) {
          const p = this.compile(c);
          if (p === undefined) return undefined; // one branch SQL cannot say: every row may match
          parts.push(p);
        }
        return { sql: `(${parts.map((p) => p.sql).join(' OR ')})`, exact: parts.every((p) => p.exact) };
      }
      case 'not': {
        const p = this.compile(f.filter);
        // Only an exact condition may be negated: a wider one would narrow too much.
        return p === undefined || !p.exact ? undefined : { sql: `(${p.sql} IS NOT TRUE)`, exact: true };
      }
      default:
        return undefined;
    }
  }

  #path(path: string): string {
    const x = pathExpression(path, this.#doc);
    if (!this.fields.includes(path)) this.fields.push(path);
    return x;
  }
}

/**
 * The SQL condition for `filter` on the documents in column `doc`, with its parameters
 * numbered from `first`; undefined when no part of it can go down.
 */
export function pushDown(filter: Filter | undefined, first: number, doc = 'h.doc'): PushedFilter | undefined {
  if (filter === undefined) return undefined;
  const c = new Compiler(first, doc);
  const part = c.compile(filter);
  if (part === undefined) return undefined;
  return { sql: part.sql, params: c.params, complete: part.exact, fields: c.fields };
}
