// Filter expressions (`age > 30 and city = "Oslo"`): the wire form each construct gives, and
// what it matches, through the query layer's own compiler. Errors: filter-expression-errors;
// random round trips: filter-expression.property.
import type { JsonValue } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import { parseFilterSyntax } from '../src/filter-expression.js';
import { parseFilterExpression, parseFilterExpressions } from '../src/filter-expression/checked.js';
import type { WireFilter } from '../src/wire.js';
import { failure, keys, wire } from './filter-expression-helpers.js';

// ---- comparisons -------------------------------------------------------------------

describe('comparison operators', () => {
  it.each<[string, WireFilter, string[]]>([
    ['city = "Oslo"', { city: 'Oslo' }, ['ann', 'dee']],
    ['city == "Oslo"', { city: 'Oslo' }, ['ann', 'dee']],
    ['city != "Oslo"', { city: { $ne: 'Oslo' } }, ['bob', 'cy']],
    ['age > 30', { age: { $gt: 30 } }, ['ann', 'cy']],
    ['age >= 31', { age: { $gte: 31 } }, ['ann', 'cy']],
    ['age < 31', { age: { $lt: 31 } }, ['bob']],
    ['age <= 31', { age: { $lte: 31 } }, ['ann', 'bob']],
    ['name ~ "^[a-c]"', { name: { $matches: '^[a-c]' } }, ['bob']],
    ['name ~ /^[a-c]/i', { name: { $matches: '^[a-c]', $options: 'i' } }, ['ann', 'bob', 'cy']],
    ['name !~ /^a/i', { $not: { name: { $matches: '^a', $options: 'i' } } }, ['bob', 'cy', 'dee']],
    ['tags contains "dev"', { tags: { $contains: 'dev' } }, ['ann', 'bob']],
    ['name contains "o"', { name: { $contains: 'o' } }, ['bob']],
    ['tags not contains "dev"', { $not: { tags: { $contains: 'dev' } } }, ['cy', 'dee']],
    ['city in ["Oslo", "Rome", 3]', { city: { $in: ['Oslo', 'Rome', 3] } }, ['ann', 'bob', 'dee']],
    ['city not in ["Oslo"]', { $not: { city: { $in: ['Oslo'] } } }, ['bob', 'cy']],
    ['city in []', { city: { $in: [] } }, []],
    ['email exists', { email: { $exists: true } }, ['cy']],
    ['age not exists', { age: { $exists: false } }, ['dee']],
    ['nick exists', { nick: { $exists: true } }, ['bob']],
    ['nick = null', { nick: null }, ['bob']],
    ['active = true', { active: true }, ['ann']],
    ['active = false', { active: false }, ['bob']],
    ['score = -1.5e3', { score: -1500 }, ['ann']],
    ['score = 2.5', { score: 2.5 }, ['bob']],
    ['address.city = "Oslo"', { 'address.city': 'Oslo' }, ['ann']],
    ['items.1.sku = "B2"', { 'items.1.sku': 'B2' }, ['ann']],
    ['tags = ["dev"]', { tags: ['dev'] }, ['bob']],
    ['meta = {"a": [1, 2]}', { meta: { $eq: { a: [1, 2] } } }, ['bob']],
    ['meta != {"a": [1, 2]}', { meta: { $ne: { a: [1, 2] } } }, ['ann', 'cy', 'dee']],
    ['address = {}', { address: { $eq: {} } }, []],
  ])('%s', (text, expected, matched) => {
    const w = wire(text);
    expect(w).toEqual(expected);
    expect(keys(text)).toEqual(matched);
  });

  it('needs no whitespace around symbols', () => {
    expect(wire('age>30&&city="Oslo"||(a.b<=-1)')).toEqual({
      $or: [{ $and: [{ age: { $gt: 30 } }, { city: 'Oslo' }] }, { 'a.b': { $lte: -1 } }],
    });
    expect(wire('x in["a"]')).toEqual({ x: { $in: ['a'] } });
    expect(wire("x contains'a'")).toEqual({ x: { $contains: 'a' } });
  });

  it('accepts any whitespace, including newlines and tabs', () => {
    expect(wire('\n\tage\n>\t30\r\n and\n\n x exists ')).toEqual({ $and: [{ age: { $gt: 30 } }, { x: { $exists: true } }] });
  });

  it('compares with nested lists and objects, keeping their order', () => {
    const w = wire('x in [[1, [2]], {"b": 1, "a": {"c": null}}, -0.5]');
    expect(JSON.stringify(w)).toBe('{"x":{"$in":[[1,[2]],{"b":1,"a":{"c":null}},-0.5]}}');
  });

  it('reads patterns as $regex does (RE2): its syntax is taken, catastrophic patterns answer', () => {
    // RegExp refused these (inline flags, Python-style named groups); RE2 takes them.
    expect(wire('x ~ /(?i)^a/')).toEqual({ x: { $matches: '(?i)^a' } });
    expect(wire('x ~ /^(?P<w>a)$/')).toEqual({ x: { $matches: '^(?P<w>a)$' } });
    expect(keys('name ~ /(?i)^A/')).toEqual(keys('name ~ /^a/i'));
    expect(keys('name ~ /^(a+)+$/')).toEqual([]);
  });

  it('writes regex literals verbatim, with \\/ and / inside a class', () => {
    expect(wire('x ~ /a\\/b[/]c\\d/')).toEqual({ x: { $matches: 'a\\/b[/]c\\d' } });
    expect(wire('x ~ /a/msu')).toEqual({ x: { $matches: 'a', $options: 'msu' } });
    expect(wire('x ~ //')).toEqual({ x: { $matches: '' } });
    expect(keys('email ~ /@x\\.no$/')).toEqual(['cy']);
    expect(keys("note ~ 'line\\\\d\\\\s'")).toEqual(['dee']); // the regex line\d\s, as a string
    expect(keys("name ~ '\\\\d'")).toEqual([]);
    expect(keys('note ~ "line1\\nline2"')).toEqual(['dee']); // a real newline
  });
});

// ---- values ------------------------------------------------------------------------

describe('values', () => {
  it.each<[string, JsonValue]>([
    ['0', 0],
    ['-0', 0],
    ['17', 17],
    ['-1.5e3', -1500],
    ['1.25E-2', 0.0125],
    ['2e+3', 2000],
    ['1e308', 1e308],
    ['123456789012', 123456789012],
    ['TRUE', true],
    ['False', false],
    ['NULL', null],
  ])('%s', (text, value) => {
    const w = wire(`x = ${text}`);
    expect(w).toEqual({ x: value });
    expect(Object.is(w.x, -0)).toBe(false);
  });

  it.each<[string, WireFilter]>([
    ['status = active', { status: 'active' }],
    ['status=active', { status: 'active' }],
    ['status = on-hold', { status: 'on-hold' }],
    ['status != a-b-c_d2', { status: { $ne: 'a-b-c_d2' } }],
    ['city = Zürich', { city: 'Zürich' }],
    ['_x = _', { _x: '_' }],
    ['name > M', { name: { $gt: 'M' } }],
    ['tags contains admin', { tags: { $contains: 'admin' } }],
    ['x not contains admin', { $not: { x: { $contains: 'admin' } } }],
    ['city in [Oslo, "Rome", 3, null]', { city: { $in: ['Oslo', 'Rome', 3, null] } }],
    ['x = {"k": v}', { x: { $eq: { k: 'v' } } }],
    ['x = True and y = NULL', { $and: [{ x: true }, { y: null }] }],
    ['x = Truth', { x: 'Truth' }],
    ['x = nullable', { x: 'nullable' }],
    ['(a = b)', { a: 'b' }],
    ['a = b&&c = d||e = f', { $or: [{ $and: [{ a: 'b' }, { c: 'd' }] }, { e: 'f' }] }],
    ['a = andy or b = notable', { $or: [{ a: 'andy' }, { b: 'notable' }] }],
  ])('reads %s: a bare word is a string (true, false, null are literals)', (text, expected) => {
    expect(wire(text)).toEqual(expected);
  });

  it('finds documents by a bare-word value as by the quoted one', () => {
    expect(keys('city = Oslo')).toEqual(keys('city = "Oslo"'));
    expect(keys('city = Oslo')).toEqual(['ann', 'dee']);
    expect(keys('tags contains dev and active = true')).toEqual(['ann']);
  });

  it('reads double-quoted strings with every JSON escape', () => {
    const w = wire(String.raw`x = "a\"b\\c\/d\be\ff\ng\rh\ti\u00e9\ud83c\udf89 \u2028"`);
    expect(w.x).toBe('a"b\\c/d\be\ff\ng\rh\ti\u00e9🎉 \u2028');
  });

  it("reads single-quoted strings: the same escapes plus \\', and a bare \"", () => {
    expect(wire(String.raw`x = 'it\'s "x" \n \u0041'`).x).toBe('it\'s "x" \n A');
    expect(wire(String.raw`x = "it\'s"`).x).toBe("it's");
    expect(wire("x = ''").x).toBe('');
  });

  it('keeps unicode text as it is', () => {
    expect(wire('x = "Dée 🎉 名前"').x).toBe('Dée 🎉 名前');
    expect(keys('name = "Dée 🎉"')).toEqual(['dee']);
    expect(keys('note contains "it\'s"')).toEqual(['dee']);
    expect(keys(String.raw`note contains "\"quoted\""`)).toEqual(['dee']);
  });
});

// ---- paths -------------------------------------------------------------------------

describe('paths', () => {
  it('reads dotted paths with digits, _, $ and unicode letters', () => {
    expect(wire('a_b.c$d.0.x9 = 1')).toEqual({ 'a_b.c$d.0.x9': 1 });
    expect(wire('_x = 1')).toEqual({ _x: 1 });
    expect(wire('名前.città = 1')).toEqual({ '名前.città': 1 });
    expect(wire('a.$b = 1')).toEqual({ 'a.$b': 1 });
  });

  it('reads backtick-quoted segments, with `` for a backtick', () => {
    expect(wire('`first name` = "Ann"')).toEqual({ 'first name': 'Ann' });
    expect(wire('a.`b c`.`d``e`.f = 1')).toEqual({ 'a.b c.d`e.f': 1 });
    expect(wire('`2024`.total > 0')).toEqual({ '2024.total': { $gt: 0 } });
    expect(wire('`x` = 1')).toEqual({ x: 1 });
    expect(keys('`first name` = "Ann"')).toEqual(['ann']);
  });

  it('takes keywords as field names when backtick-quoted or inside a dotted path', () => {
    for (const k of ['and', 'or', 'not', 'in', 'contains', 'exists', 'true', 'false', 'null', 'AND']) {
      expect(wire(`\`${k}\` = 1`)).toEqual({ [k]: 1 });
      expect(wire(`a.${k} = 1`)).toEqual({ [`a.${k}`]: 1 });
      expect(wire(`${k}.a = 1`)).toEqual({ [`${k}.a`]: 1 });
    }
    expect(wire('`in` in [1]')).toEqual({ in: { $in: [1] } });
    expect(wire('not `not` not exists')).toEqual({ $not: { not: { $exists: false } } });
    expect(keys('`in` = 1')).toEqual(['ann']);
  });

  it('treats words that only start with a keyword as field names', () => {
    expect(wire('notes = 1 and order = 2 or india exists')).toEqual({
      $or: [{ $and: [{ notes: 1 }, { order: 2 }] }, { india: { $exists: true } }],
    });
    expect(wire('x = 1 and nullable = true')).toEqual({ $and: [{ x: 1 }, { nullable: true }] });
  });

  it('makes __proto__ an own key, never a prototype', () => {
    const w = wire('__proto__ = 1');
    expect(Object.keys(w)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(w)).toBe(Object.prototype);
    expect(JSON.stringify(w)).toBe('{"__proto__":1}');
    expect(JSON.stringify(wire('a.__proto__.b exists'))).toBe('{"a.__proto__.b":{"$exists":true}}');
    const obj = wire('x = {"__proto__": {"y": 1}}');
    expect(JSON.stringify(obj)).toBe('{"x":{"$eq":{"__proto__":{"y":1}}}}');
    expect(({} as Record<string, unknown>).y).toBeUndefined();
    expect(keys('__proto__.x = 1')).toEqual(['cy']);
    expect(keys('__proto__ exists')).toEqual(['cy']);
    expect(keys('constructor exists')).toEqual([]);
  });
});

// ---- boolean structure -------------------------------------------------------------

describe('and, or, not', () => {
  const A = { a: 1 };
  const B = { b: 2 };
  const C = { c: 3 };
  const D = { d: 4 };

  it('gives not precedence over and, and over or', () => {
    expect(wire('a = 1 or b = 2 and c = 3')).toEqual({ $or: [A, { $and: [B, C] }] });
    expect(wire('a = 1 and b = 2 or c = 3')).toEqual({ $or: [{ $and: [A, B] }, C] });
    expect(wire('not a = 1 and b = 2')).toEqual({ $and: [{ $not: A }, B] });
    expect(wire('not a = 1 or not b = 2 and c = 3')).toEqual({ $or: [{ $not: A }, { $and: [{ $not: B }, C] }] });
  });

  it('follows parentheses', () => {
    expect(wire('(a = 1 or b = 2) and c = 3')).toEqual({ $and: [{ $or: [A, B] }, C] });
    expect(wire('not (a = 1 and b = 2)')).toEqual({ $not: { $and: [A, B] } });
    expect(wire('((((a = 1))))')).toEqual(A);
    expect(wire('a = 1 and (b = 2 or (c = 3 and d = 4))')).toEqual({ $and: [A, { $or: [B, { $and: [C, D] }] }] });
  });

  it('flattens chains and nested groups of the same operator', () => {
    expect(wire('a = 1 and b = 2 and c = 3 and d = 4')).toEqual({ $and: [A, B, C, D] });
    expect(wire('a = 1 or b = 2 or c = 3')).toEqual({ $or: [A, B, C] });
    expect(wire('(a = 1 and b = 2) and (c = 3 and d = 4)')).toEqual({ $and: [A, B, C, D] });
    expect(wire('a = 1 or (b = 2 or c = 3)')).toEqual({ $or: [A, B, C] });
    expect(wire('(a = 1 and b = 2) or (c = 3 and d = 4)')).toEqual({ $or: [{ $and: [A, B] }, { $and: [C, D] }] });
    expect(wire('not (a = 1 and b = 2) and c = 3')).toEqual({ $and: [{ $not: { $and: [A, B] } }, C] });
  });

  it('accepts keywords in any case and the symbols !, &&, ||', () => {
    const expected = { $or: [{ $and: [{ $not: A }, B] }, C] };
    expect(wire('NOT a = 1 AND b = 2 OR c = 3')).toEqual(expected);
    expect(wire('Not a = 1 aNd b = 2 oR c = 3')).toEqual(expected);
    expect(wire('!a = 1 && b = 2 || c = 3')).toEqual(expected);
    expect(wire('!(a = 1) && b = 2 || c = 3')).toEqual(expected);
    expect(wire('not not a = 1')).toEqual({ $not: { $not: A } });
    expect(wire('!!a = 1')).toEqual({ $not: { $not: A } });
    expect(wire('a EXISTS and b NOT Exists and c IN [1] and d CONTAINS 1')).toEqual({
      $and: [{ a: { $exists: true } }, { b: { $exists: false } }, { c: { $in: [1] } }, { d: { $contains: 1 } }],
    });
  });

  it('reads "not path exists" as the negation of "path exists"', () => {
    expect(wire('not age exists')).toEqual({ $not: { age: { $exists: true } } });
    expect(keys('not age exists')).toEqual(keys('age not exists'));
  });

  it('evaluates a combined filter', () => {
    expect(keys('age > 30 and city = "Oslo"')).toEqual(['ann']);
    expect(keys('(city = "Oslo" or city = "Rome") and not tags contains "admin"')).toEqual(['bob', 'dee']);
    expect(keys('age < 30 || email exists && name ~ /^c/i')).toEqual(['bob', 'cy']);
    expect(keys('not (age >= 25 and age <= 35)')).toEqual(['cy', 'dee']);
  });
});

// ---- several expressions -------------------------------------------------------------

describe('parseFilterExpressions (a repeated --filter)', () => {
  it('gives one expression as it is and several as one flattened $and', () => {
    expect(parseFilterExpressions(['age > 30'])).toEqual({ age: { $gt: 30 } });
    expect(parseFilterExpressions(['age > 30', 'a = 1 and b = 2', 'c = 3 or d = 4'])).toEqual({
      $and: [{ age: { $gt: 30 } }, { a: 1 }, { b: 2 }, { $or: [{ c: 3 }, { d: 4 }] }],
    });
  });

  it('names which one is wrong when there are several, and the option it is given', () => {
    expect(failure('', undefined, (t) => parseFilterExpressions(['a = 1', t])).message).toBe('--filter #2: the expression is empty');
    const e = failure('x >', undefined, (t) => parseFilterExpressions([t], '--where'));
    expect(e.message).toBe("--where: expected a value after '>' at column 4");
    expect(e.option).toBe('--where');
  });

  it('checks the bounds of one filter over all of them together, at column 1', () => {
    const deep = `${'not '.repeat(63)}a = 1`;
    expect(parseFilterExpression(deep)).toBeDefined();
    const e = failure('', undefined, () => parseFilterExpressions([deep, 'b = 1']));
    expect(e.message).toMatch(/^--filter: a filter may nest at most 64 levels deep .* at column 1$/);
    expect(e.column).toBe(1);
  });
});

// ---- syntax only ---------------------------------------------------------------------

describe('parseFilterSyntax (the light entry): the syntax alone', () => {
  it('gives the wire form without compiling patterns or counting the bounds of one filter', () => {
    expect(parseFilterSyntax('x ~ /(/ and y !~ "(?=a)"')).toEqual({
      $and: [{ x: { $matches: '(' } }, { $not: { y: { $matches: '(?=a)' } } }],
    });
    expect(failure('x ~ /(/').message).toBe('--filter: invalid regular expression: missing closing ): `(` at column 5');
    const deep = `${'not '.repeat(100)}a = 1`;
    expect(JSON.stringify(parseFilterSyntax(deep))).toBe(`${'{"$not":'.repeat(100)}{"a":1}${'}'.repeat(100)}`);
    expect(failure(deep).column).toBe(1);
  });

  it('refuses what the grammar refuses, with the same message and column', () => {
    for (const text of ['age >', 'a = b.c', 'x ~ /a/g', `${'('.repeat(129)}a = 1${')'.repeat(129)}`, '']) {
      const light = failure(text, '--where', parseFilterSyntax);
      const checked = failure(text, '--where');
      expect(light.message).toBe(checked.message);
      expect(light.column).toBe(checked.column);
      expect(light.details).toEqual(checked.details);
    }
  });

  it('reports the first problem in the text: the checked parser stops at a refused pattern before a later syntax error', () => {
    expect(failure('a ~ "(" and b >').message).toBe('--filter: invalid regular expression: missing closing ): `(` at column 5');
    expect(failure('a ~ "(" and b >', undefined, parseFilterSyntax).message).toBe("--filter: expected a value after '>' at column 16");
  });
});
