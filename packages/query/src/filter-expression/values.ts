/**
 * The right side of a comparison: JSON-ish values (strings in either quote, numbers,
 * literals, lists, objects, single bare words) and the patterns of `~` / `!~`.
 */
import type { JsonValue } from '@koru/engine';
import { Scanner, SPACE, WORD } from './scanner.js';

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
const ESCAPES: ReadonlySet<string> = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/** Reads values and patterns at the scanner's position. */
export class ValueReader extends Scanner {
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
