/**
 * The grammar's structure: `or` over `and` over `not` / `( )` over comparisons, each
 * comparison becoming one wire object. Syntax only: what a comparison means (is the
 * pattern valid RE2, ...) is left to the `check` a caller passes, so that this module
 * needs nothing of the filter compiler (see ../filter-expression.ts and ./checked.ts).
 */
import type { JsonValue } from '@koru/engine';
import { InvalidQueryError } from '../errors.js';
import type { WireFilter } from '../wire.js';
import { group, single } from './scanner.js';
import { FilterSyntaxError } from './syntax-error.js';
import { ValueReader } from './values.js';

const OPERATORS = ['==', '=', '!=', '!~', '>=', '>', '<=', '<', '~'] as const;
const OPERATOR_HINT = 'one of = != < <= > >= ~ !~ contains in exists';
const COMPARE: Readonly<Record<string, string>> = { '!=': '$ne', '>': '$gt', '>=': '$gte', '<': '$lt', '<=': '$lte' };

/**
 * Checks one comparison's wire object as it is parsed; throws an {@link InvalidQueryError}
 * to refuse it (reported at the comparison's operand, before anything after it is read).
 */
export type LeafCheck = (wire: WireFilter) => void;

function isPlainObject(v: JsonValue): v is { readonly [key: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

class Parser extends ValueReader {
  constructor(
    text: string,
    option: string,
    readonly check: LeafCheck | undefined,
  ) {
    super(text, option);
  }

  // ---- boolean structure ---------------------------------------------------------

  parseOr(after: string | undefined): WireFilter {
    const parts = [this.parseAnd(after)];
    for (let op = this.accept('or', '||'); op !== undefined; op = this.accept('or', '||')) parts.push(this.parseAnd(op));
    return group('$or', parts);
  }

  parseAnd(after: string | undefined): WireFilter {
    const parts = [this.parseUnary(after)];
    for (let op = this.accept('and', '&&'); op !== undefined; op = this.accept('and', '&&')) parts.push(this.parseUnary(op));
    return group('$and', parts);
  }

  parseUnary(after: string | undefined): WireFilter {
    this.skipSpace();
    const start = this.pos;
    const not = this.accept('not', '!');
    if (not !== undefined) {
      this.enter(start);
      const inner = this.parseUnary(not);
      this.depth--;
      return single('$not', inner);
    }
    if (this.text[this.pos] === '(') {
      this.enter(start);
      this.pos++;
      const inner = this.parseOr('(');
      this.skipSpace();
      if (this.text[this.pos] !== ')') {
        if (this.atEnd()) this.fail(`expected ')'`, this.pos, `to close the '(' at column ${this.column(start)}`);
        this.fail(`unexpected '${this.describe(this.pos)}'`, this.pos, `expected 'and', 'or' or ')'`);
      }
      this.pos++;
      this.depth--;
      return inner;
    }
    return this.parseComparison(after);
  }

  // ---- comparisons ---------------------------------------------------------------

  parseComparison(after: string | undefined): WireFilter {
    const start = this.pos;
    const path = this.parsePath(after);
    const pathText = this.text.slice(start, this.pos);
    this.skipSpace();
    const opPos = this.pos;
    const symbol = OPERATORS.find((s) => this.text.startsWith(s, opPos));
    if (symbol !== undefined) {
      this.pos += symbol.length;
      if (symbol === '~' || symbol === '!~') {
        this.skipSpace();
        const patternPos = this.pos;
        const [pattern, flags] = this.parsePattern(symbol);
        const spec: Record<string, JsonValue> = { $matches: pattern };
        if (flags !== '') spec.$options = flags;
        const leaf = this.leaf(path, spec, patternPos);
        return symbol === '~' ? leaf : single('$not', leaf);
      }
      this.skipSpace();
      const valuePos = this.pos;
      const value = this.parseValue(symbol);
      if (symbol === '=' || symbol === '==') return this.leaf(path, isPlainObject(value) ? { $eq: value } : value, valuePos);
      return this.leaf(path, { [COMPARE[symbol]!]: value }, valuePos);
    }
    const keyword = this.keywordAt();
    const negated = keyword === 'not';
    let opText = keyword === undefined ? '' : this.text.slice(opPos, opPos + keyword.length);
    if (negated) {
      this.pos += keyword.length;
      this.skipSpace();
      const next = this.keywordAt();
      if (next !== 'exists' && next !== 'in' && next !== 'contains') {
        this.fail(`expected 'exists', 'in' or 'contains' after '${opText}'`, this.pos);
      }
      opText = this.text.slice(this.pos, this.pos + next.length);
    }
    const op = negated ? this.keywordAt() : keyword;
    const leafPos = this.pos;
    let leaf: WireFilter;
    if (op === 'exists') {
      this.pos += op.length;
      return this.leaf(path, { $exists: !negated }, leafPos);
    } else if (op === 'in') {
      this.pos += op.length;
      this.skipSpace();
      if (this.text[this.pos] !== '[') this.fail(`expected a list after '${opText}'`, this.pos, 'e.g. ["a", "b"]');
      const listPos = this.pos;
      leaf = this.leaf(path, { $in: this.parseValue(opText) }, listPos);
    } else if (op === 'contains') {
      this.pos += op.length;
      this.skipSpace();
      const valuePos = this.pos;
      leaf = this.leaf(path, { $contains: this.parseValue(opText) }, valuePos);
    } else {
      return this.fail(`expected an operator after '${pathText}'`, opPos, OPERATOR_HINT);
    }
    return negated ? single('$not', leaf) : leaf;
  }

  /** One comparison's wire object, checked by `check` (if given) and reported at `pos`. */
  leaf(path: string, spec: JsonValue, pos: number): WireFilter {
    const wire = single(path, spec);
    if (this.check === undefined) return wire;
    try {
      this.check(wire);
    } catch (e) {
      if (!(e instanceof InvalidQueryError)) throw e;
      this.fail(e.message, pos, undefined, e);
    }
    return wire;
  }
}

/**
 * Parses one filter expression into its wire form, calling `check` on each comparison as
 * it is read. O(length of `text`) plus what `check` costs.
 * @throws FilterSyntaxError (INVALID_QUERY) naming the option and the column
 */
export function parseExpression(text: string, option: string, check: LeafCheck | undefined): WireFilter {
  const p = new Parser(text, option, check);
  p.skipSpace();
  if (p.atEnd()) throw new FilterSyntaxError(option, 'the expression is empty', 1);
  const wire = p.parseOr(undefined);
  p.skipSpace();
  if (!p.atEnd()) {
    const token = p.describe(p.pos);
    p.fail(`unexpected '${token}'`, p.pos, token === ')' ? undefined : `expected 'and', 'or' or the end`);
  }
  return wire;
}
