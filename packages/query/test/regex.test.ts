// $regex / $matches run with RE2 semantics (re2js): linear time, refused features named.
import type { JsonValue } from '@koru/engine';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../src/compile.js';
import { Filter } from '../src/filter.js';
import { refusal } from './refusal.js';
import { parseFilter } from '../src/wire.js';

function test(pattern: string, s: string, flags?: string): boolean {
  return compileFilter(Filter.matches('s', pattern, flags))({ s } as JsonValue);
}

describe('catastrophic patterns run in linear time', () => {
  // A backtracking engine (RegExp) takes exponential time on each of these: the old code
  // never returned. Finishing (with the right answer) is the test; no time threshold.
  const aaa = 'a'.repeat(10_000);
  it('^(a+)+$', () => {
    expect(test('^(a+)+$', `${aaa}!`)).toBe(false);
    expect(test('^(a+)+$', aaa)).toBe(true);
  });
  it('(a|a)*$', () => {
    expect(test('^(a|a)*$', `${aaa}!`)).toBe(false);
    expect(test('(a|a)*$', `${aaa}!`)).toBe(true); // the empty match at the end
    expect(test('^(a|a)*$', aaa)).toBe(true);
  });
  it('(.*a){20}', () => {
    expect(test('(.*a){20}', `${aaa}!`)).toBe(true);
    expect(test('(.*a){20}', `${'a'.repeat(19)}${'b'.repeat(10_000)}`)).toBe(false);
  });
  it('through the wire form and $not too', () => {
    const p = compileFilter(parseFilter({ s: { $not: { $matches: '^(a+)+$' } } }));
    expect(p({ s: `${aaa}!` })).toBe(true);
  });
});

describe('flags map to RE2', () => {
  it('i: case-insensitive, with Unicode simple case folding', () => {
    expect(test('^abc$', 'ABC')).toBe(false);
    expect(test('^abc$', 'ABC', 'i')).toBe(true);
    expect(test('^k$', '\u212A', 'i')).toBe(true); // KELVIN SIGN folds to k, as in JavaScript's `iu`
  });
  it('m: ^ and $ also match at a \\n', () => {
    expect(test('^b', 'a\nb')).toBe(false);
    expect(test('^b', 'a\nb', 'm')).toBe(true);
    expect(test('a$', 'a\nb')).toBe(false);
    expect(test('a$', 'a\nb', 'm')).toBe(true);
  });
  it('s: . also matches \\n', () => {
    expect(test('a.b', 'a\nb')).toBe(false);
    expect(test('a.b', 'a\nb', 's')).toBe(true);
  });
  it('u: accepted; matching is by code point with or without it', () => {
    expect(test('^.$', '😀', 'u')).toBe(true);
    expect(test('^.$', '😀')).toBe(true);
    expect(test('^\\x{1F600}$', '😀')).toBe(true);
    expect(test('^\\p{Lu}nn$', 'Ånn', 'u')).toBe(true);
  });
  it('flags combine, and only imsu is taken', () => {
    expect(test('^b.c$', 'a\nB\nC\nd', 'ims')).toBe(true);
    expect(test('^b.c$', 'a\nB\nC\nd', 'im')).toBe(false);
    expect(test('^b.c$', 'a\nB\nC\nd', 'is')).toBe(false);
    expect(test('^b.c$', 'a\nB\nC\nd', 'ms')).toBe(false);
    for (const bad of ['g', 'y', 'x', 'ii', 'v']) refusal(() => Filter.matches('s', 'a', bad));
  });
});

describe('RE2 syntax', () => {
  it('takes what RE2 has: named groups, classes, lazy quantifiers, counted repeats, \\x{...}', () => {
    expect(test('^(?<word>\\w+)-(?P<n>\\d+)$', 'ab-12')).toBe(true);
    expect(test('^[[:alpha:]]+$', 'abc')).toBe(true);
    expect(test('^\\pL+$', 'Åb')).toBe(true);
    expect(test('^a+?b??c*?$', 'aac')).toBe(true);
    expect(test('^\\x{41}+$', 'AAA')).toBe(true); // `}+` here closes an escape, not a repeat count
    expect(test('^a{2,3}$', 'aaa')).toBe(true);
    expect(test('^a{2}$', 'aaa')).toBe(false);
    expect(test('\\Q(?=a)\\E', 'x(?=a)')).toBe(true); // literal text is not syntax
    expect(test('^[+*?]+$', '+*?')).toBe(true);
    expect(test('(?i)abc', 'ABC')).toBe(true);
    expect(test('', 'anything')).toBe(true);
  });

  it('refuses, naming it, each feature RE2 does not have', () => {
    const cases: Array<[string, RegExp]> = [
      ['(a)\\1', /backreference/],
      ['[\\1]', /backreference or octal escape \\1/],
      ['(?<x>a)\\k<x>', /named backreference \\k<name>/],
      ['(?P<x>a)(?P=x)', /named backreference \(\?P=name\)/],
      ['a(?=b)', /lookahead/],
      ['a(?!b)', /negative lookahead/],
      ['(?<=a)b', /lookbehind/],
      ['(?<!a)b', /negative lookbehind/],
      ['(?>a+)b', /atomic group/],
      ['a*+', /possessive quantifier/],
      ['a++', /possessive quantifier/],
      ['a?+', /possessive quantifier/],
      ['a{2,3}+', /possessive quantifier/],
      ['(?(1)a|b)', /conditional/],
      ['(a(?R)?b)', /recursion \(\?R\)/],
      ['(a(?1)?b)', /recursion \(\?1\)/],
      ['(?<x>a(?&x)?b)', /recursion \(\?&name\)/],
      ['\\u0041', /the \\u escape/],
      ['\\u{1F600}', /the \\u escape/],
      ['\\cA', /control escape/],
      ['a[]', /empty class \[\]/],
      ['[^]', /empty class \[\^\]/],
    ];
    for (const [pattern, feature] of cases) {
      const e = refusal(() => Filter.matches('s', pattern));
      expect(e.code, pattern).toBe('INVALID_QUERY');
      expect(e.message, pattern).toMatch(feature);
      expect(e.message, pattern).toMatch(/linear-time \(RE2\) matching does not support/);
      expect(e.details.path).toBe('s');
    }
  });

  it('refuses at parse time in the wire form, at the operator', () => {
    const e = refusal(() => parseFilter({ a: { $or: 1 }, s: { $regex: '(a)\\1' } }));
    expect(e.path).toBe('a.$or'); // (the first problem in key order)
    const f = refusal(() => parseFilter({ s: { $regex: 'x(?=y)' } }));
    expect(f.path).toBe('s.$regex');
    expect(f.message).toMatch(/\$regex pattern uses lookahead \(\?=\.\.\.\) at character 2/);
  });

  it('other patterns RE2 cannot read are INVALID_QUERY with its reason', () => {
    expect(refusal(() => Filter.matches('s', '\\e')).message).toMatch(/invalid regular expression: invalid escape sequence/);
    expect(refusal(() => Filter.matches('s', 'a{1001}')).message).toMatch(/invalid repeat count/);
    expect(refusal(() => compileFilter({ op: 'matches', path: 's', pattern: 'a(?=b)' })).message).toMatch(/lookahead/);
  });
});

describe('the literal fast path', () => {
  it('answers as RE2 itself for literal patterns, anchored or not, under every flag (property)', () => {
    const piece = fc.constantFrom('a', 'b', '\\.', '.', 'é', '\n', '\\$', '\\\\', '\\^', 'A', '😀', '\uD800');
    const pattern = fc.tuple(fc.boolean(), fc.array(piece, { maxLength: 4 }), fc.boolean()).map(([s, body, e]) => `${s ? '^' : ''}${body.join('')}${e ? '$' : ''}`);
    const input = fc.array(fc.constantFrom('a', 'b', '.', 'é', 'A', '\n', '$', '\\', '^', '😀', '\uD800', '\uFFFD'), { maxLength: 8 }).map((xs) => xs.join(''));
    const flags = fc.constantFrom('', 'i', 'm', 's', 'u', 'ms', 'imsu');
    fc.assert(
      fc.property(pattern, flags, input, (p, f, s) => {
        let bits = 0;
        for (const c of f) bits |= { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL, u: 0 }[c]!;
        expect(test(p, s, f === '' ? undefined : f), `${JSON.stringify(p)} /${f} on ${JSON.stringify(s)}`).toBe(RE2JS.compile(p, bits).test(s));
      }),
      { numRuns: 3000 },
    );
  });
});
