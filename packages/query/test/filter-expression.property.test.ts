// Filter expressions, property-based: random filters printed in random equivalent spellings
// parse back to the builder's wire form; and/or/not precedence agrees with JavaScript's.
import type { JsonValue } from '@koru/engine';
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFilterSyntax } from '../src/filter-expression.js';
import { parseFilterExpression } from '../src/filter-expression/checked.js';
import { Filter } from '../src/filter.js';
import { parseFilter, toWire } from '../src/wire.js';
import { keys } from './filter-expression-helpers.js';

type CmpOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
type Ast =
  | { readonly k: 'cmp'; readonly path: readonly string[]; readonly op: CmpOp; readonly value: JsonValue }
  | { readonly k: 'match'; readonly path: readonly string[]; readonly pattern: string; readonly flags: string; readonly neg: boolean }
  | { readonly k: 'contains'; readonly path: readonly string[]; readonly value: JsonValue; readonly neg: boolean }
  | { readonly k: 'in'; readonly path: readonly string[]; readonly values: readonly JsonValue[]; readonly neg: boolean }
  | { readonly k: 'exists'; readonly path: readonly string[]; readonly exists: boolean }
  | { readonly k: 'and' | 'or'; readonly items: readonly Ast[] }
  | { readonly k: 'not'; readonly item: Ast };

const SEGMENTS = ['a', 'b', 'age', 'x_1', 'é', '名前', '__proto__', 'constructor', '0', '12', 'in', 'Not', 'null', 'first name', 'x`y', '$x', 'a-b'];
const segmentArb = fc.constantFrom(...SEGMENTS);
const pathArb = fc
  .tuple(segmentArb.filter((s) => !s.startsWith('$')), fc.array(segmentArb, { maxLength: 2 }))
  .map(([first, rest]) => [first, ...rest]);

const stringArb = fc.oneof(
  fc.constantFrom('', 'Oslo', "it's", 'say "hi"', 'a\\b', 'tab\there', 'nl\n', '\u0000', '🎉', 'é', '\u2028', '/'),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const numberArb = fc
  .oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ noNaN: true, noDefaultInfinity: true }))
  .map((n) => (Object.is(n, -0) ? 0 : n));
const scalarArb = fc.oneof(stringArb, numberArb, fc.constantFrom<JsonValue>(true, false, null));
const { value: valueArb } = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb,
    fc.array(tie('value'), { maxLength: 3 }),
    fc
      .array(fc.tuple(fc.constantFrom('a', 'b', '__proto__', '$eq', 'x y', ''), tie('value')), { maxLength: 3 })
      .map((entries) => {
        const o: Record<string, JsonValue> = {};
        for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        return o;
      }),
  ),
}));

const { ast: astArb } = fc.letrec<{ ast: Ast }>((tie) => ({
  ast: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ k: fc.constant('cmp' as const), path: pathArb, op: fc.constantFrom<CmpOp>('=', '!=', '>', '>=', '<', '<='), value: valueArb }),
    fc.record({
      k: fc.constant('match' as const),
      path: pathArb,
      pattern: fc.constantFrom('', '^a', 'b$', 'a|b', '[/]x', 'a\\/b', '\\d+', 'é.', "'\"", '\\\\'),
      flags: fc.constantFrom('', 'i', 'ms', 'u', 'imsu'),
      neg: fc.boolean(),
    }),
    fc.record({ k: fc.constant('contains' as const), path: pathArb, value: valueArb, neg: fc.boolean() }),
    fc.record({ k: fc.constant('in' as const), path: pathArb, values: fc.array(valueArb, { maxLength: 3 }), neg: fc.boolean() }),
    fc.record({ k: fc.constant('exists' as const), path: pathArb, exists: fc.boolean() }),
    fc.record({ k: fc.constantFrom('and' as const, 'or' as const), items: fc.array(tie('ast'), { minLength: 2, maxLength: 3 }) }),
    fc.record({ k: fc.constant('not' as const), item: tie('ast') }),
  ),
}));

/** The expected filter, built with the query layer's own constructors (and/or flattened). */
function toFilter(ast: Ast): Filter {
  const path = 'path' in ast ? ast.path.join('.') : '';
  switch (ast.k) {
    case 'cmp': {
      const op = ({ '=': 'eq', '!=': 'ne', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' } as const)[ast.op];
      return Filter[op](path, ast.value);
    }
    case 'match': {
      const f = Filter.matches(path, ast.pattern, ast.flags === '' ? undefined : ast.flags);
      return ast.neg ? Filter.not(f) : f;
    }
    case 'contains':
      return ast.neg ? Filter.not(Filter.contains(path, ast.value)) : Filter.contains(path, ast.value);
    case 'in':
      return ast.neg ? Filter.not(Filter.in(path, ast.values)) : Filter.in(path, ast.values);
    case 'exists':
      return Filter.exists(path, ast.exists);
    case 'not':
      return Filter.not(toFilter(ast.item));
    default: {
      const items = ast.items.map(toFilter).flatMap((f) => (f.op === ast.k ? f.filters : [f]));
      return ast.k === 'and' ? Filter.and(...items) : Filter.or(...items);
    }
  }
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'contains', 'exists', 'true', 'false', 'null']);

/** Prints an AST as expression text, choosing among the equivalent spellings with `rnd`. */
class Printer {
  constructor(private readonly rnd: () => number) {}

  pick<T>(...options: T[]): T {
    return options[Math.floor(this.rnd() * options.length)]!;
  }

  kw(word: string): string {
    return this.pick(word, word.toUpperCase(), word[0]!.toUpperCase() + word.slice(1));
  }

  segment(s: string, first: boolean, only: boolean): string {
    const plain = /^[\p{L}\p{M}\p{Nd}_$]+$/u.test(s) && !(first && /^[0-9]/.test(s)) && !(only && KEYWORDS.has(s.toLowerCase()));
    return plain && this.rnd() < 0.8 ? s : `\`${s.replaceAll('`', '``')}\``;
  }

  path(p: readonly string[]): string {
    return p.map((s, i) => this.segment(s, i === 0, p.length === 1)).join('.');
  }

  string(s: string): string {
    const json = JSON.stringify(s);
    if (this.rnd() < 0.5) return json;
    // Single quotes: same escapes, \" may become a bare ", and ' must be escaped.
    let out = "'";
    for (let i = 1; i < json.length - 1; i++) {
      const ch = json[i]!;
      if (ch === '\\') {
        const next = json[i + 1]!;
        out += next === '"' && this.rnd() < 0.5 ? '"' : ch + next;
        i++;
      } else out += ch === "'" ? "\\'" : ch;
    }
    return `${out}'`;
  }

  value(v: JsonValue): string {
    if (v === null || typeof v === 'boolean') return this.kw(String(v));
    if (typeof v === 'number') return JSON.stringify(v);
    if (typeof v === 'string') return this.string(v);
    if (Array.isArray(v)) return `[${this.ws()}${v.map((x) => this.value(x)).join(`${this.ws()},${this.ws()}`)}${this.ws()}]`;
    const obj = v as { readonly [key: string]: JsonValue };
    const members = Object.keys(obj).map((k) => `${this.string(k)}${this.ws()}:${this.ws()}${this.value(obj[k]!)}`);
    return `{${this.ws()}${members.join(`,${this.ws()}`)}${this.ws()}}`;
  }

  ws(): string {
    return this.pick('', '', ' ', '  ', '\n', '\t', '\u00a0');
  }

  /** Joins tokens, adding a space where two word-like characters would otherwise touch. */
  join(...tokens: string[]): string {
    let out = tokens[0]!;
    for (const t of tokens.slice(1)) {
      let sep = this.ws();
      if (sep === '' && /[\p{L}\p{M}\p{Nd}_$`/]$/u.test(out) && /^[\p{L}\p{M}\p{Nd}_$`]/u.test(t)) sep = ' ';
      out += sep + t;
    }
    return out;
  }

  pattern(pattern: string, flags: string): string {
    if (flags === '' && this.rnd() < 0.5) return this.string(pattern);
    return `/${pattern}/${flags}`; // the pool's patterns are valid literal bodies
  }

  /** Prints `ast`; `level` is the binding strength its context needs (0 or, 1 and, 2 not). */
  print(ast: Ast, level = 0): string {
    const text = this.bare(ast);
    const strength = ast.k === 'or' ? 0 : ast.k === 'and' ? 1 : 2;
    return strength < level || this.rnd() < 0.1 ? this.join('(', text, ')') : text;
  }

  bare(ast: Ast): string {
    switch (ast.k) {
      case 'cmp':
        return this.join(this.path(ast.path), ast.op === '=' ? this.pick('=', '==') : ast.op, this.value(ast.value));
      case 'match':
        return this.join(this.path(ast.path), ast.neg ? '!~' : '~', this.pattern(ast.pattern, ast.flags));
      case 'contains':
      case 'in': {
        const operand = ast.k === 'in' ? this.value([...ast.values]) : this.value(ast.value);
        return ast.neg
          ? this.join(this.path(ast.path), this.kw('not'), this.kw(ast.k), operand)
          : this.join(this.path(ast.path), this.kw(ast.k), operand);
      }
      case 'exists':
        return ast.exists ? this.join(this.path(ast.path), this.kw('exists')) : this.join(this.path(ast.path), this.kw('not'), this.kw('exists'));
      case 'not': {
        const bang = this.rnd() < 0.3;
        const inner = this.print(ast.item, 2);
        return bang ? `!${this.ws()}${inner}` : this.join(this.kw('not'), inner);
      }
      default: {
        const level = ast.k === 'and' ? 1 : 0;
        // A nested group of the same operator may go without parentheses: it flattens anyway.
        const parts = ast.items.map((item) => this.print(item, item.k === ast.k ? level : level + 1));
        const sep = () => (ast.k === 'and' ? this.pick(this.kw('and'), '&&') : this.pick(this.kw('or'), '||'));
        return parts.slice(1).reduce((acc, p) => this.join(acc, sep(), p), parts[0]!);
      }
    }
  }
}

describe('properties', () => {
  it('random filter → printed expression → parseFilterExpression (and parseFilterSyntax) gives the builder’s wire form', () => {
    fc.assert(
      fc.property(astArb, fc.integer({ min: 0, max: 0x7fffffff }), (ast, seed) => {
        const rnd = prng(seed);
        const text = new Printer(rnd).print(ast);
        const expected = toWire(toFilter(ast));
        const got = parseFilterExpression(text);
        expect(JSON.stringify(got), text).toBe(JSON.stringify(expected));
        expect(JSON.stringify(parseFilterSyntax(text)), text).toBe(JSON.stringify(expected));
        expect(JSON.stringify(toWire(parseFilter(got)))).toBe(JSON.stringify(got));
        expect(({} as Record<string, unknown>).a).toBeUndefined();
      }),
      { seed: fcSeed('filter expression round trip'), numRuns: 1000 },
    );
  });

  it('and/or/not precedence gives the same results as JavaScript’s !, && and ||', () => {
    type B = { readonly k: 'leaf'; readonly field: 'p' | 'q' | 'r'; readonly form: 0 | 1 | 2 } | { readonly k: 'not'; readonly item: B } | { readonly k: 'and' | 'or'; readonly l: B; readonly r: B };
    const { b: boolArb } = fc.letrec<{ b: B }>((tie) => ({
      b: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.record({ k: fc.constant('leaf' as const), field: fc.constantFrom<'p' | 'q' | 'r'>('p', 'q', 'r'), form: fc.constantFrom<0 | 1 | 2>(0, 1, 2) }),
        fc.record({ k: fc.constant('not' as const), item: tie('b') }),
        fc.record({ k: fc.constantFrom('and' as const, 'or' as const), l: tie('b'), r: tie('b') }),
      ),
    }));
    // Leaves: `f = true`, `f exists`, `f != false` over fields that are true, false or missing.
    const LEAF = ['= true', 'exists', '!= false'];
    const evalB = (b: B, doc: Record<string, boolean>): boolean => {
      if (b.k === 'leaf') {
        const v = doc[b.field];
        return b.form === 0 ? v === true : b.form === 1 ? v !== undefined : v !== false;
      }
      if (b.k === 'not') return !evalB(b.item, doc);
      return b.k === 'and' ? evalB(b.l, doc) && evalB(b.r, doc) : evalB(b.l, doc) || evalB(b.r, doc);
    };
    // Minimal parentheses: only where precedence (or left-to-right grouping) needs them.
    const strength = (b: B) => (b.k === 'or' ? 0 : b.k === 'and' ? 1 : 2);
    const show = (b: B, level: number, rightOperand = false): string => {
      let text: string;
      if (b.k === 'leaf') text = `${b.field} ${LEAF[b.form]}`;
      else if (b.k === 'not') text = `not ${show(b.item, 2)}`;
      else text = `${show(b.l, strength(b))} ${b.k} ${show(b.r, strength(b), true)}`;
      return strength(b) < level || (rightOperand && strength(b) === level && b.k !== 'not' && b.k !== 'leaf') ? `(${text})` : text;
    };

    const docs: Record<string, Record<string, boolean>> = {};
    const states = [true, false, undefined];
    for (const p of states) for (const q of states) for (const r of states) {
      const doc: Record<string, boolean> = {};
      if (p !== undefined) doc.p = p;
      if (q !== undefined) doc.q = q;
      if (r !== undefined) doc.r = r;
      docs[`d${Object.keys(docs).length}`] = doc;
    }

    fc.assert(
      fc.property(boolArb, (b) => {
        const text = show(b, 0);
        const expected = Object.keys(docs).filter((k) => evalB(b, docs[k]!)).sort();
        expect(keys(text, docs), text).toEqual(expected);
      }),
      { seed: fcSeed('filter expression precedence'), numRuns: 300 },
    );
  });
});
