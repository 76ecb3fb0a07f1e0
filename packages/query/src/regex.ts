/**
 * The regular expressions of `$regex`/`$matches`: RE2 syntax and semantics, run by
 * `re2js` (a pure-JavaScript port of RE2, so the browser build keeps working), in time
 * linear in the length of the string matched. A backtracking engine (`RegExp`) can take
 * exponential time on patterns such as `^(a+)+$`, which would stall a server's one event
 * loop on a single request; RE2 cannot.
 *
 * Refused at parse time with `INVALID_QUERY`, naming the feature (they need backtracking,
 * or are JavaScript spellings RE2 reads differently):
 * - backreferences `\1`…`\9` (also octal escapes other than `\0`), `\k<name>`, `(?P=name)`;
 * - lookahead `(?=…)` `(?!…)` and lookbehind `(?<=…)` `(?<!…)`;
 * - atomic groups `(?>…)`, possessive quantifiers `*+` `++` `?+` `{n,m}+`;
 * - conditionals `(?(…)…)` and recursion `(?R)` `(?1)` `(?&name)` `(?P>name)`;
 * - JavaScript's `\uHHHH` / `\u{H…}` (write `\x{H…}`), `\cX` (write `\x{..}`), and the
 *   empty classes `[]` / `[^]` (write `[^\x00-\x{10FFFF}]` / `[\s\S]`).
 * Everything else RE2 rejects (an unknown escape such as `\e`, a repeat count over 1,000)
 * is `INVALID_QUERY` with RE2's message.
 *
 * Flags (`$options`): `i` case-insensitive (Unicode simple case folding, as JavaScript's
 * `iu`), `m` multi-line (`^`/`$` also match next to `\n`), `s` (`.` also matches `\n`),
 * `u` accepted and without effect: matching is always by Unicode code point (`.` matches
 * one whole emoji with or without `u`). Differences from JavaScript a pattern can meet:
 * `.` without `s` matches everything but `\n` (also `\r`, U+2028, U+2029); `^`/`$` with
 * `m` know only `\n` as a line end; `\s` is `[\t\n\f\r ]` (no `\v`, no Unicode spaces);
 * RE2 adds `\pL`, `[[:alpha:]]`, `\A`, `\z`, `\Q…\E` and inline flags `(?i)`.
 */
import { RE2JS } from 're2js';
import { InvalidQueryError } from './errors.js';
import { MAX_PATTERN_LENGTH } from './limits.js';

/** A compiled pattern: `test` says whether it matches somewhere in `input` (stateless). */
export interface Pattern {
  test(input: string): boolean;
}

const FLAGS = /^(?!.*(.).*\1)[imsu]*$/;
// Built by a call marked pure: reading RE2JS's fields at the top level would count as a
// side effect, and keep re2js (the largest part of a bundle) in pages that use none of it.
const FLAG_BITS: Readonly<Record<string, number>> = /* @__PURE__ */ (() => ({
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  u: 0,
}))();

/** A `{n}`, `{n,}` or `{n,m}` quantifier at the sticky position. */
const COUNT = /\{\d+(?:,\d*)?\}/y;

/** `(?` followed by these starts a construct RE2 does not have (longest first). */
const GROUP_FEATURES: ReadonlyArray<readonly [string, string]> = [
  ['<=', 'lookbehind (?<=...)'],
  ['<!', 'negative lookbehind (?<!...)'],
  ['=', 'lookahead (?=...)'],
  ['!', 'negative lookahead (?!...)'],
  ['>', 'atomic group (?>...)'],
  ['P=', 'named backreference (?P=name)'],
  ['P>', 'recursion (?P>name)'],
  ['&', 'recursion (?&name)'],
  ['R', 'recursion (?R)'],
  ['(', 'conditional (?(...)...)'],
];

/** The RegExp feature RE2 lacks at the start of `pattern` (none: undefined), with its index. */
export function unsupportedFeature(pattern: string): { feature: string; index: number } | undefined {
  const n = pattern.length;
  let inClass = false;
  let i = 0;
  while (i < n) {
    const c = pattern[i]!;
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) return undefined; // RE2 reports the trailing backslash
      if (e >= '1' && e <= '9') return { feature: `backreference or octal escape \\${e}`, index: i };
      if (e === 'k' && pattern[i + 2] === '<') return { feature: 'named backreference \\k<name>', index: i };
      if (e === 'u') return { feature: 'the \\u escape (write \\x{HHHH})', index: i };
      if (e === 'c') return { feature: 'the control escape \\cX (write \\x{01} for \\cA)', index: i };
      if ((e === 'x' || e === 'p' || e === 'P') && pattern[i + 2] === '{') {
        // `\x{41}`, `\p{Greek}`: the braces are not a repeat count.
        const end = pattern.indexOf('}', i + 3);
        i = end < 0 ? n : end + 1;
        continue;
      }
      if (e === 'Q') {
        // RE2's literal text: nothing up to \E is syntax.
        const end = pattern.indexOf('\\E', i + 2);
        i = end < 0 ? n : end + 2;
        continue;
      }
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        if (end >= 0) {
          i = end + 2;
          continue;
        }
      }
      if (c === ']') inClass = false;
      i++;
      continue;
    }
    if (c === '[') {
      const first = pattern[i + 1] === '^' ? i + 2 : i + 1;
      if (pattern[first] === ']') return { feature: `the JavaScript empty class ${pattern.slice(i, first + 1)}`, index: i };
      inClass = true;
      i = first;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 4);
      for (const [start, feature] of GROUP_FEATURES) if (rest.startsWith(start)) return { feature, index: i };
      if (rest[0] !== undefined && rest[0] >= '0' && rest[0] <= '9') return { feature: `recursion (?${rest[0]})`, index: i };
      i += 2;
      continue;
    }
    let q = -1;
    if (c === '*' || c === '+' || c === '?') q = i + 1;
    else if (c === '{') {
      COUNT.lastIndex = i;
      if (COUNT.test(pattern)) q = COUNT.lastIndex;
    }
    if (q >= 0) {
      // A `+` right after a quantifier makes it possessive (`?` after one is lazy, which RE2 has).
      if (pattern[q] === '+' && !(c === '?' && isQuantifierEnd(pattern, i))) return { feature: 'possessive quantifier', index: i };
      i = q;
      continue;
    }
    i++;
  }
  return undefined;
}

/** True when the `?` at `i` makes the quantifier before it lazy (then `?+` is `?` then `+`). */
function isQuantifierEnd(pattern: string, i: number): boolean {
  const p = pattern[i - 1];
  return (p === '*' || p === '+' || p === '}') && pattern[i - 2] !== '\\';
}

/**
 * A pattern that is only literal text, perhaps anchored: `^abc`, `abc`, `abc$`, `^a\.b$`.
 * Characters other than RE2's metacharacters, or ASCII punctuation escaped (which RE2
 * reads as itself); no surrogates or U+FFFD (RE2 reads a lone surrogate as U+FFFD).
 */
const LITERAL = /^(\^?)((?:[^\\^$.|?*+()[\]{}\uD800-\uDFFF\uFFFD]|\\[!-/:-@[-`{-~])*)(\$?)$/;

/**
 * The same answers as RE2 for a literal pattern, by `startsWith`/`includes`/`endsWith`
 * (several times faster in a scan), or undefined when that would not be exact: with `i`
 * (case folding), or with `m` and an anchor (`^`/`$` would also match at a `\n`).
 */
function literalPattern(pattern: string, flags: string): Pattern | undefined {
  const m = LITERAL.exec(pattern);
  if (m === null || flags.includes('i')) return undefined;
  const [, start, body, end] = m as unknown as [string, string, string, string];
  if (flags.includes('m') && (start !== '' || end !== '')) return undefined;
  const text = body.replace(/\\(.)/g, '$1');
  if (start !== '' && end !== '') return { test: (s) => s === text };
  if (start !== '') return { test: (s) => s.startsWith(text) };
  if (end !== '') return { test: (s) => s.endsWith(text) };
  return { test: (s) => s.includes(text) };
}

/**
 * Compiled patterns by flags and source, shared by every filter: a query parses its
 * filter (validating the pattern) and then compiles it, and the same patterns recur.
 * Small, because a compiled pattern's lazy DFA may grow to a few megabytes.
 */
const cache = new Map<string, Pattern>();
const CACHE_SIZE = 32;

/**
 * Compiles a `$regex`/`$matches` pattern (`op` names it in messages) with RE2 semantics
 * (see the module comment), throwing an {@link InvalidQueryError} at `where` when it is
 * not a string, longer than {@link MAX_PATTERN_LENGTH}, uses a feature RE2 lacks, is
 * invalid, or has flags outside `imsu` (`g` and `y` would make a test stateful; MongoDB's
 * `x` is not JavaScript's). Matching then takes time linear in the input's length.
 */
export function compileRegex(pattern: unknown, flags: unknown, where: string, op: '$matches' | '$regex' = '$matches'): Pattern {
  if (typeof pattern !== 'string') throw new InvalidQueryError(`a ${op} pattern must be a string`, where);
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new InvalidQueryError(`a ${op} pattern is longer than ${MAX_PATTERN_LENGTH} characters`, where, {
      details: { limit: MAX_PATTERN_LENGTH },
    });
  }
  if (flags !== undefined && (typeof flags !== 'string' || !FLAGS.test(flags))) {
    throw new InvalidQueryError('regex flags must be distinct letters among "imsu"', where);
  }
  const key = `${flags ?? ''}/${pattern}`;
  const hit = cache.get(key);
  if (hit !== undefined) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const unsupported = unsupportedFeature(pattern);
  if (unsupported !== undefined) {
    throw new InvalidQueryError(
      `a ${op} pattern uses ${unsupported.feature} at character ${unsupported.index + 1}, which linear-time (RE2) matching does not support`,
      where,
    );
  }
  let bits = 0;
  for (const f of flags ?? '') bits |= FLAG_BITS[f]!;
  let compiled: Pattern;
  try {
    compiled = literalPattern(pattern, flags ?? '') ?? RE2JS.compile(pattern, bits);
  } catch (e) {
    const reason = e instanceof Error ? e.message.replace(/^error parsing regexp: /, '') : String(e);
    throw new InvalidQueryError(`invalid regular expression: ${reason}`, where, { cause: e });
  }
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, compiled);
  return compiled;
}
