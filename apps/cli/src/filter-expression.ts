/**
 * Filter expressions: the human syntax of `kdelta query --filter`, parsed into the query
 * layer's JSON wire form (the MongoDB-style objects `parseFilter` reads).
 *
 * The block below is the user-facing grammar (it is also the CLI help text):
 *
 * ```text
 * Filter expressions
 *   age > 30 and city = "Oslo"
 *   (status = "open" or status = "new") and not archived exists
 *   tags contains "urgent" && name ~ /^an/i || address.city in ["Oslo", "Rome"]
 *
 * Comparisons: FIELD OPERATOR VALUE
 *   = (or ==)         equal (deep JSON equality: lists and objects compare whole)
 *   !=                not equal; also true when the field is missing
 *   > >= < <=         ordered comparison; never true when the field is missing
 *   ~  !~             matches / does not match a regular expression, given as a quoted
 *                     string ("^an") or as /pattern/flags (flags: i m s u), e.g. /^an/i;
 *                     RE2 syntax, matched in linear time: no backreferences or lookaround
 *   contains VALUE    a string field contains the substring, or a list field has the element
 *   in [V1, V2, ...]  equal to one of the listed values
 *   exists            the field is present (a null value counts as present)
 *   not exists        the field is missing
 *   not in [...], not contains VALUE
 *                     the negation of in / contains (so also true when the field is missing)
 *
 * Combining
 *   not X, X and Y, X or Y, (X); also written !X, X && Y, X || Y.
 *   not binds tightest, then and, then or:
 *   a = 1 or b = 2 and not c exists   means   a = 1 or (b = 2 and (not c exists))
 *   Keywords (and or not in contains exists true false null) ignore case.
 *
 * Values (JSON)
 *   numbers           30, -1.5, 2.5e3 (no leading zeros, +, or bare .5)
 *   strings           "double" or 'single' quoted, with JSON escapes
 *                     (\" \\ \/ \b \f \n \r \t \uXXXX) and \' in both; a " needs no
 *                     escape inside '...'
 *   true false null, lists [1, "a"], objects {"k": 1}
 *   bare words        a value that is one word is text: status = active means
 *                     status = "active" (also in lists: city in [Oslo, Rome]). A word is
 *                     letters, digits and _, with single - inside (on-hold), starting
 *                     with a letter or _. true, false and null (any case) stay literals,
 *                     and numbers stay numbers: quote them for text ("true", "30").
 *                     Nothing else is read unquoted: a = b.c is refused (a value is never
 *                     a field, and b.c would look like one), as are São Paulo (two
 *                     words), a@b.com and keywords (in, not, ...): quote them.
 *
 * Fields
 *   Dotted paths: address.city, items.0.sku. A segment is letters, digits, _ and $;
 *   quote it with backticks for anything else: `first name`, `in` (a keyword),
 *   `2024`.total (a leading digit); `` is a backtick inside backticks. A field cannot
 *   start with $, and a segment cannot contain a dot.
 *
 * Spaces are optional around symbols (age>30&&x="a") and needed between words
 * (a /regex/flags literal counts as a word).
 * ```
 *
 * Wire form produced (the query layer's normal form, i.e. `toWire(parseFilter(w))` is
 * `w`): `a = v` is `{ "a": v }` (`{ "a": { "$eq": v } }` when v is an object), other
 * operators `{ "a": { "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$contains" | "$in": v } }`,
 * `a ~ /p/f` is `{ "a": { "$matches": "p", "$options": "f" } }` (no `$options` without
 * flags), `a exists` / `a not exists` is `{ "a": { "$exists": true | false } }`; `!~`,
 * `not in`, `not contains` and `not X` wrap in `{ "$not": ... }`; `and` / `or` give
 * `{ "$and" | "$or": [...] }` with nested groups of the same operator flattened into one
 * list. A `/.../` literal's source is kept verbatim (`\/` stays `\/`; `/` may appear
 * unescaped inside `[...]`); `-0` becomes `0`. A field named `__proto__` becomes an own key.
 *
 * Errors are {@link FilterSyntaxError}s (code `INVALID_QUERY`) whose message names the
 * option and the 1-based column, counted in characters (Unicode code points):
 * `--filter: expected a value after '>' at column 7`. Parentheses, `not`s, lists and
 * objects nest at most 128 deep. A pattern is checked by the query layer, so `~` means
 * exactly what `$regex` means (RE2), and so is the whole filter, against the bounds of
 * one filter (64 levels, 1,000 conditions, 10,000 listed values, 16 patterns; reported at
 * column 1).
 */
import { InvalidQueryError, parseFilter, type JsonValue, type WireFilter } from '@koru/delta';

/**
 * A filter expression that cannot be parsed: an {@link InvalidQueryError} (code
 * `INVALID_QUERY`) with `details.column` (1-based, in code points) and `details.option`;
 * the message is `${option}: ${message}`. `details.path` is `''` (the whole filter).
 */
export class FilterSyntaxError extends InvalidQueryError {
  /** Where the problem is, 1-based, in code points. */
  readonly column: number;
  /** The command-line option the expression came from (`--filter`). */
  readonly option: string;

  constructor(option: string, message: string, column: number, cause?: unknown) {
    super(`${option}: ${message}`, '', { details: { column, option }, ...(cause !== undefined ? { cause } : {}) });
    this.column = column;
    this.option = option;
  }
}

/** How deeply parentheses, `not`s and list/object values may nest. */
const MAX_DEPTH = 128;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'contains', 'exists', 'true', 'false', 'null']);
const WORD = /[\p{L}\p{M}\p{Nd}_$]+/uy;
const WORD_CHAR = /[\p{L}\p{M}\p{Nd}_$.`]/uy;
const SPACE = /\s*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const NUMBER_LIKE = /[-+.\p{L}\p{M}\p{Nd}_$]*/uy;
/** A value written without quotes: a word, with single hyphens inside (`on-hold`). */
const BARE_WORD = /[\p{L}_][\p{L}\p{M}\p{Nd}_]*(?:-[\p{L}\p{M}\p{Nd}_]+)*/uy;
/** What may follow a bare word directly: space, the end, a closing bracket, a comma, && or ||. */
const AFTER_BARE_WORD = /(?:\s|$|[)\]},]|&&|\|\|)/y;
/** The run of characters a bare word was probably meant to be part of, for messages. */
const BARE_RUN = /[^\s()[\]{},&|]+/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
const REGEX_FLAGS = /^(?!.*(.).*\1)[imsu]*$/;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const OPERATORS = ['==', '=', '!=', '!~', '>=', '>', '<=', '<', '~'] as const;
const OPERATOR_HINT = 'one of = != < <= > >= ~ !~ contains in exists';
const COMPARE: Readonly<Record<string, string>> = { '!=': '$ne', '>': '$gt', '>=': '$gte', '<': '$lt', '<=': '$lte' };

function isPlainObject(v: JsonValue): v is { readonly [key: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `{ [key]: value }` as an own property even when `key` is `__proto__`. */
function single(key: string, value: JsonValue): WireFilter {
  const out: Record<string, JsonValue> = {};
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

function group(op: '$and' | '$or', parts: WireFilter[]): WireFilter {
  if (parts.length === 1) return parts[0]!;
  const flat: JsonValue[] = [];
  for (const p of parts) {
    const keys = Object.keys(p);
    if (keys.length === 1 && keys[0] === op) flat.push(...(p[op] as JsonValue[]));
    else flat.push(p);
  }
  return single(op, flat);
}

class Parser {
  pos = 0;
  depth = 0;

  constructor(
    readonly text: string,
    readonly option: string,
  ) {}

  // ---- errors --------------------------------------------------------------------

  column(pos: number): number {
    return Array.from(this.text.slice(0, pos)).length + 1;
  }

  fail(message: string, pos: number, hint?: string, cause?: unknown): never {
    const column = this.column(pos);
    const text = `${message} at column ${column}${hint === undefined ? '' : ` (${hint})`}`;
    throw new FilterSyntaxError(this.option, text, column, cause);
  }

  /** The token at `pos` for an "unexpected ..." message: a word or one character. */
  describe(pos: number): string {
    WORD.lastIndex = pos;
    const m = WORD.exec(this.text);
    if (m !== null) return m[0];
    return String.fromCodePoint(this.text.codePointAt(pos)!);
  }

  enter(pos: number): void {
    if (++this.depth > MAX_DEPTH) this.fail('the expression is nested too deeply', pos, `at most ${MAX_DEPTH} levels`);
  }

  // ---- lexing helpers ------------------------------------------------------------

  skipSpace(): void {
    SPACE.lastIndex = this.pos;
    SPACE.exec(this.text);
    this.pos = SPACE.lastIndex;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** The keyword at the current position (any case, ending at a word boundary), or undefined. */
  keywordAt(pos = this.pos): string | undefined {
    WORD.lastIndex = pos;
    const m = WORD.exec(this.text);
    if (m === null) return undefined;
    WORD_CHAR.lastIndex = pos + m[0].length;
    if (WORD_CHAR.test(this.text)) return undefined; // `not.x` or `in\`x\`` is a path
    const word = m[0].toLowerCase();
    return KEYWORDS.has(word) ? word : undefined;
  }

  /** Consumes `keyword` (or one of its symbolic forms) and returns the source text. */
  accept(keyword: string, ...symbols: string[]): string | undefined {
    this.skipSpace();
    for (const s of symbols) {
      if (this.text.startsWith(s, this.pos)) {
        this.pos += s.length;
        return s;
      }
    }
    if (this.keywordAt() === keyword) {
      const src = this.text.slice(this.pos, this.pos + keyword.length);
      this.pos += keyword.length;
      return src;
    }
    return undefined;
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

  /** One comparison's wire object, checked by the query layer (regexes, paths). */
  leaf(path: string, spec: JsonValue, pos: number): WireFilter {
    const wire = single(path, spec);
    try {
      parseFilter(wire);
    } catch (e) {
      if (!(e instanceof InvalidQueryError)) throw e;
      this.fail(e.message, pos, undefined, e);
    }
    return wire;
  }

  parsePath(after: string | undefined): string {
    this.skipSpace();
    const start = this.pos;
    const segments: string[] = [];
    for (;;) {
      const segPos = this.pos;
      if (this.text[this.pos] === '`') {
        segments.push(this.parseQuotedSegment());
      } else {
        WORD.lastIndex = this.pos;
        const m = WORD.exec(this.text);
        if (m === null) {
          if (segments.length > 0) this.fail(`expected a field name after '.'`, segPos);
          const quoted = /^(["'])([^"'`\\]*)\1/.exec(this.text.slice(segPos));
          this.fail(
            after === undefined ? 'expected a field name' : `expected a field name after '${after}'`,
            segPos,
            quoted === null ? undefined : `quote field names with backticks: \`${quoted[2]}\``,
          );
        }
        const word = m[0];
        if (segments.length === 0) {
          const keyword = this.keywordAt();
          if (keyword !== undefined) {
            this.fail(
              after === undefined ? 'expected a field name' : `expected a field name after '${after}'`,
              segPos,
              `'${word}' is a keyword: write \`${word}\` for a field of that name`,
            );
          }
          if (/^[0-9]/.test(word)) {
            this.fail('expected a field name', segPos, `a field name starting with a digit must be quoted: \`${word}\``);
          }
        }
        this.pos += word.length;
        segments.push(word);
      }
      if (this.text[this.pos] !== '.') break;
      this.pos++;
    }
    if (segments[0]!.startsWith('$')) this.fail(`a field name must not start with '$'`, start);
    return segments.join('.');
  }

  parseQuotedSegment(): string {
    const start = this.pos;
    let i = start + 1;
    let name = '';
    for (;;) {
      if (i >= this.text.length) this.fail('unterminated backtick-quoted name starting', start);
      const ch = this.text[i]!;
      if (ch === '`') {
        if (this.text[i + 1] !== '`') break;
        name += '`';
        i += 2;
      } else {
        name += ch;
        i++;
      }
    }
    if (name === '') this.fail('empty field name', start);
    if (name.includes('.')) this.fail(`a field name cannot contain '.'`, start, 'keys with dots cannot be addressed');
    this.pos = i + 1;
    return name;
  }

  // ---- values --------------------------------------------------------------------

  /** A `~` operand: a quoted string or a /pattern/flags literal. */
  parsePattern(op: string): [string, string] {
    const ch = this.text[this.pos];
    if (ch === '"' || ch === "'") return [this.parseString(), ''];
    if (ch !== '/') this.fail(`expected a pattern after '${op}'`, this.pos, 'a quoted string or /regex/flags');
    const start = this.pos;
    let i = start + 1;
    let inClass = false;
    for (;;) {
      const c = this.text[i];
      if (c === undefined) this.fail('unterminated regex starting', start);
      if (c === '\\') {
        if (i + 1 >= this.text.length) this.fail('unterminated regex starting', start);
        i += 2;
        continue;
      }
      if (c === '/' && !inClass) break;
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      i++;
    }
    const pattern = this.text.slice(start + 1, i);
    const flagsPos = i + 1;
    WORD.lastIndex = flagsPos;
    const flags = WORD.exec(this.text)?.[0] ?? '';
    if (!REGEX_FLAGS.test(flags)) this.fail(`invalid regex flags '${flags}'`, flagsPos, 'allowed: i m s u, each at most once');
    this.pos = flagsPos + flags.length;
    return [pattern, flags];
  }

  /** A JSON-ish value; `after` names what precedes it, for messages. */
  parseValue(after: string): JsonValue {
    this.skipSpace();
    const pos = this.pos;
    const ch = this.text[pos];
    if (ch === '"' || ch === "'") return this.parseString();
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return this.parseNumber();
    if (ch === '[') return this.parseList();
    if (ch === '{') return this.parseObject();
    const keyword = this.keywordAt();
    if (keyword === 'true' || keyword === 'false' || keyword === 'null') {
      this.pos += keyword.length;
      return keyword === 'null' ? null : keyword === 'true';
    }
    if (keyword !== undefined) {
      const word = this.text.slice(pos, pos + keyword.length);
      this.fail(`expected a value after '${after}'`, pos, `'${word}' is a keyword: write "${word}" for the text`);
    }
    BARE_WORD.lastIndex = pos;
    const word = BARE_WORD.exec(this.text)?.[0];
    if (word !== undefined) return this.bareWord(word, pos);
    return this.fail(`expected a value after '${after}'`, pos, ch === '/' ? `a /regex/ needs '~'` : undefined);
  }

  /** The text of the field path at `pos`, if one is there (for messages). */
  pathAt(pos: number): string | undefined {
    const saved = this.pos;
    this.pos = pos;
    try {
      this.parsePath(undefined);
      return this.text.slice(pos, this.pos);
    } catch {
      return undefined;
    } finally {
      this.pos = saved;
    }
  }

  /** `word` (at `pos`) as text, unless what surrounds it makes that a guess. */
  bareWord(word: string, pos: number): string {
    const end = pos + word.length;
    AFTER_BARE_WORD.lastIndex = end;
    if (!AFTER_BARE_WORD.test(this.text)) {
      const path = this.pathAt(pos);
      if (path !== undefined && /^[.`]/.test(path.slice(word.length))) {
        this.fail(`'${path}' looks like a field, but a value cannot be a field`, pos, `for the text, quote it: ${JSON.stringify(path)}`);
      }
      BARE_RUN.lastIndex = pos;
      const run = BARE_RUN.exec(this.text)![0];
      this.fail(`unquoted value '${run}'`, pos, `only a single word may go unquoted: write ${JSON.stringify(run)}`);
    }
    SPACE.lastIndex = end;
    SPACE.exec(this.text);
    const next = SPACE.lastIndex;
    WORD.lastIndex = next;
    const following = next > end ? WORD.exec(this.text)?.[0] : undefined;
    if (following !== undefined && this.keywordAt(next) === undefined) {
      const phrase = this.text.slice(pos, next + following.length);
      this.fail(`unexpected '${following}' after the unquoted value '${word}'`, next, `quote a value of several words: ${JSON.stringify(phrase)}`);
    }
    this.pos = end;
    return word;
  }

  parseString(): string {
    const start = this.pos;
    const quote = this.text[start]!;
    let json = '';
    let i = start + 1;
    for (;;) {
      const ch = this.text[i];
      if (ch === undefined) this.fail('unterminated string starting', start);
      if (ch === quote) break;
      if (ch === '\\') {
        const next = this.text[i + 1];
        if (next === undefined) this.fail('unterminated string starting', start);
        if (next === "'") {
          json += "'";
        } else if (next === 'u') {
          HEX4.lastIndex = i + 2;
          if (!HEX4.test(this.text)) this.fail(`invalid escape '\\u' in string`, i, '\\u needs 4 hex digits');
          json += this.text.slice(i, i + 6);
          i += 6;
          continue;
        } else if (ESCAPES.has(next)) {
          json += ch + next;
        } else {
          const shown = String.fromCodePoint(this.text.codePointAt(i + 1)!);
          this.fail(`invalid escape '\\${shown}' in string`, i, `escapes are \\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX`);
        }
        i += 2;
        continue;
      }
      const code = ch.charCodeAt(0);
      if (code < 0x20) {
        const hex = code.toString(16).toUpperCase().padStart(4, '0');
        this.fail(`control character U+${hex} in string`, i, `write it as an escape: \\u${hex.toLowerCase()}`);
      }
      json += ch === '"' ? '\\"' : ch;
      i++;
    }
    this.pos = i + 1;
    return JSON.parse(`"${json}"`) as string;
  }

  parseNumber(): number {
    const start = this.pos;
    NUMBER.lastIndex = start;
    const m = NUMBER.exec(this.text);
    const end = m === null ? start : start + m[0].length;
    NUMBER_LIKE.lastIndex = end;
    const rest = NUMBER_LIKE.exec(this.text)?.[0] ?? '';
    if (m === null || rest !== '') {
      NUMBER_LIKE.lastIndex = start + 1;
      const text = this.text.slice(start, start + 1) + (NUMBER_LIKE.exec(this.text)?.[0] ?? '');
      this.fail(`invalid number '${text}'`, start);
    }
    const n = Number(m[0]);
    if (!Number.isFinite(n)) this.fail(`number out of range '${m[0]}'`, start);
    this.pos = end;
    return n === 0 ? 0 : n; // -0 is not JSON
  }

  parseList(): JsonValue[] {
    const start = this.pos;
    this.enter(start);
    this.pos++;
    const items: JsonValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
    } else {
      for (let after = '['; ; after = ',') {
        items.push(this.parseValue(after));
        this.skipSpace();
        const ch = this.text[this.pos];
        this.pos++;
        if (ch === ']') break;
        if (ch !== ',') this.closeFail(start, ']');
      }
    }
    this.depth--;
    return items;
  }

  parseObject(): { [key: string]: JsonValue } {
    const start = this.pos;
    this.enter(start);
    this.pos++;
    const out: Record<string, JsonValue> = {};
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
    } else {
      for (;;) {
        this.skipSpace();
        const keyPos = this.pos;
        const q = this.text[keyPos];
        if (q !== '"' && q !== "'") this.fail('expected a quoted key', keyPos);
        const key = this.parseString();
        if (Object.prototype.hasOwnProperty.call(out, key)) this.fail(`duplicate key ${JSON.stringify(key)} in object`, keyPos);
        this.skipSpace();
        if (this.text[this.pos] !== ':') this.fail(`expected ':' after the key ${JSON.stringify(key)}`, this.pos);
        this.pos++;
        Object.defineProperty(out, key, { value: this.parseValue(':'), enumerable: true, writable: true, configurable: true });
        this.skipSpace();
        const ch = this.text[this.pos];
        this.pos++;
        if (ch === '}') break;
        if (ch !== ',') this.closeFail(start, '}');
      }
    }
    this.depth--;
    return out;
  }

  /** After a list item or object member: neither `,` nor the closing bracket. */
  closeFail(open: number, close: string): never {
    const pos = --this.pos;
    const opener = this.text[open]!;
    if (this.atEnd()) this.fail(`expected '${close}'`, pos, `to close the '${opener}' at column ${this.column(open)}`);
    return this.fail(`expected ',' or '${close}'`, pos);
  }
}

/**
 * Parses one or more filter expressions (a repeated `--filter`) into one wire filter
 * that all of them must match: `{ "$and": [...] }` (flattened) for several. Errors name
 * the option, and which one when there are several (`--filter #2: ...`).
 * @throws FilterSyntaxError (INVALID_QUERY)
 */
export function parseFilterExpressions(texts: readonly string[], option = '--filter'): WireFilter {
  const parts = texts.map((t, i) => parseFilterExpression(t, texts.length > 1 ? `${option} #${i + 1}` : option));
  return checkBounds(group('$and', parts), option);
}

/** `wire` unless the query layer refuses the whole filter (a bound of one filter: depth, size). */
function checkBounds(wire: WireFilter, option: string): WireFilter {
  try {
    parseFilter(wire);
  } catch (e) {
    if (!(e instanceof InvalidQueryError)) throw e;
    throw new FilterSyntaxError(option, `${e.message} at column 1`, 1, e);
  }
  return wire;
}

/**
 * Parses a filter expression (grammar in the module comment) into the wire form that
 * `parseFilter` and `db.query(ns, { filter })` accept. `option` prefixes error messages.
 * O(length of `text`).
 * @throws FilterSyntaxError (INVALID_QUERY) naming the option and the column
 */
export function parseFilterExpression(text: string, option = '--filter'): WireFilter {
  const p = new Parser(text, option);
  p.skipSpace();
  if (p.atEnd()) throw new FilterSyntaxError(option, 'the expression is empty', 1);
  const wire = p.parseOr(undefined);
  p.skipSpace();
  if (!p.atEnd()) {
    const token = p.describe(p.pos);
    p.fail(`unexpected '${token}'`, p.pos, token === ')' ? undefined : `expected 'and', 'or' or the end`);
  }
  return checkBounds(wire, option);
}
