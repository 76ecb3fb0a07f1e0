/**
 * The lowest layer of the filter-expression parser: the token patterns, the position and
 * nesting depth, errors that name the column, keywords and symbols, and field paths (the
 * left side of a comparison, also read to explain a refused bare value).
 */
import type { JsonValue } from '@koru/engine';
import type { WireFilter } from '../wire.js';
import { FilterSyntaxError } from './syntax-error.js';

/** How deeply parentheses, `not`s and list/object values may nest. */
const MAX_DEPTH = 128;
const KEYWORDS: ReadonlySet<string> = new Set(['and', 'or', 'not', 'in', 'contains', 'exists', 'true', 'false', 'null']);
export const WORD = /[\p{L}\p{M}\p{Nd}_$]+/uy;
const WORD_CHAR = /[\p{L}\p{M}\p{Nd}_$.`]/uy;
export const SPACE = /\s*/y;

/** `{ [key]: value }` as an own property even when `key` is `__proto__`. */
export function single(key: string, value: JsonValue): WireFilter {
  const out: Record<string, JsonValue> = {};
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** `parts` joined by `op`, with nested groups of the same operator flattened into one list. */
export function group(op: '$and' | '$or', parts: WireFilter[]): WireFilter {
  if (parts.length === 1) return parts[0]!;
  const flat: JsonValue[] = [];
  for (const p of parts) {
    const keys = Object.keys(p);
    if (keys.length === 1 && keys[0] === op) flat.push(...(p[op] as JsonValue[]));
    else flat.push(p);
  }
  return single(op, flat);
}

/** A position in the text and what every reader above it needs: errors, spaces, keywords, paths. */
export class Scanner {
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

  // ---- field paths ---------------------------------------------------------------

  /** A dotted field path; `after` names what precedes it, for messages. */
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
}
