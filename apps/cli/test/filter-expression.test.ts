import {
  ErrorCodes,
  Filter,
  InvalidQueryError,
  KoruDelta,
  KoruError,
  parseFilter,
  toWire,
  type JsonValue,
  type WireFilter,
} from '@koru/delta';
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilterSyntaxError, parseFilterExpression } from '../src/filter-expression.js';

/** Parses `text`, checking that the query layer accepts the result and that it is in normal form. */
function wire(text: string): WireFilter {
  const w = parseFilterExpression(text);
  const normal = toWire(parseFilter(w));
  expect(JSON.stringify(normal)).toBe(JSON.stringify(w));
  return w;
}

/** The error `parseFilterExpression(text, option)` throws. */
function failure(text: string, option?: string): FilterSyntaxError {
  try {
    parseFilterExpression(text, option);
  } catch (e) {
    expect(e).toBeInstanceOf(FilterSyntaxError);
    return e as FilterSyntaxError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

// ---- evaluation against a real (in-memory) database ------------------------------------

const NS = 'people';
let db: KoruDelta;

const DOCS: Record<string, JsonValue> = {
  ann: {
    name: 'Ann',
    age: 31,
    city: 'Oslo',
    tags: ['admin', 'dev'],
    address: { city: 'Oslo', zip: '0150' },
    active: true,
    'first name': 'Ann',
    in: 1,
    items: [{ sku: 'A1' }, { sku: 'B2' }],
    score: -1500,
  },
  bob: { name: 'bob', age: 25, city: 'Rome', tags: ['dev'], active: false, nick: null, score: 2.5, meta: { a: [1, 2] } },
  cy: JSON.parse('{"name":"Cy","age":40,"city":"Bergen","email":"cy@x.no","tags":[],"__proto__":{"x":1}}') as JsonValue,
  dee: { name: 'Dée 🎉', city: 'Oslo', note: 'line1\nline2 "quoted" it\'s' },
};

beforeAll(async () => {
  db = await KoruDelta.start();
  for (const [key, value] of Object.entries(DOCS)) await db.put(NS, key, value);
});

afterAll(async () => {
  await db.close();
});

/** The keys of the documents `text` matches, sorted. */
async function keys(text: string): Promise<string[]> {
  const result = await db.query(NS, { filter: wire(text) });
  return result.rows.map((r) => r.key).sort();
}

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
  ])('%s', async (text, expected, matched) => {
    const w = wire(text);
    expect(w).toEqual(expected);
    expect(await keys(text)).toEqual(matched);
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

  it('reads patterns as $regex does (RE2): its syntax is taken, catastrophic patterns answer', async () => {
    // RegExp refused these (inline flags, Python-style named groups); RE2 takes them.
    expect(wire('x ~ /(?i)^a/')).toEqual({ x: { $matches: '(?i)^a' } });
    expect(wire('x ~ /^(?P<w>a)$/')).toEqual({ x: { $matches: '^(?P<w>a)$' } });
    expect(await keys('name ~ /(?i)^A/')).toEqual(await keys('name ~ /^a/i'));
    expect(await keys('name ~ /^(a+)+$/')).toEqual([]);
  });

  it('writes regex literals verbatim, with \\/ and / inside a class', async () => {
    expect(wire('x ~ /a\\/b[/]c\\d/')).toEqual({ x: { $matches: 'a\\/b[/]c\\d' } });
    expect(wire('x ~ /a/msu')).toEqual({ x: { $matches: 'a', $options: 'msu' } });
    expect(wire('x ~ //')).toEqual({ x: { $matches: '' } });
    expect(await keys('email ~ /@x\\.no$/')).toEqual(['cy']);
    expect(await keys("note ~ 'line\\\\d\\\\s'")).toEqual(['dee']); // the regex line\d\s, as a string
    expect(await keys("name ~ '\\\\d'")).toEqual([]);
    expect(await keys('note ~ "line1\\nline2"')).toEqual(['dee']); // a real newline
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

  it('finds documents by a bare-word value as by the quoted one', async () => {
    expect(await keys('city = Oslo')).toEqual(await keys('city = "Oslo"'));
    expect(await keys('city = Oslo')).toEqual(['ann', 'dee']);
    expect(await keys('tags contains dev and active = true')).toEqual(['ann']);
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

  it('keeps unicode text as it is', async () => {
    expect(wire('x = "Dée 🎉 名前"').x).toBe('Dée 🎉 名前');
    expect(await keys('name = "Dée 🎉"')).toEqual(['dee']);
    expect(await keys('note contains "it\'s"')).toEqual(['dee']);
    expect(await keys(String.raw`note contains "\"quoted\""`)).toEqual(['dee']);
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

  it('reads backtick-quoted segments, with `` for a backtick', async () => {
    expect(wire('`first name` = "Ann"')).toEqual({ 'first name': 'Ann' });
    expect(wire('a.`b c`.`d``e`.f = 1')).toEqual({ 'a.b c.d`e.f': 1 });
    expect(wire('`2024`.total > 0')).toEqual({ '2024.total': { $gt: 0 } });
    expect(wire('`x` = 1')).toEqual({ x: 1 });
    expect(await keys('`first name` = "Ann"')).toEqual(['ann']);
  });

  it('takes keywords as field names when backtick-quoted or inside a dotted path', async () => {
    for (const k of ['and', 'or', 'not', 'in', 'contains', 'exists', 'true', 'false', 'null', 'AND']) {
      expect(wire(`\`${k}\` = 1`)).toEqual({ [k]: 1 });
      expect(wire(`a.${k} = 1`)).toEqual({ [`a.${k}`]: 1 });
      expect(wire(`${k}.a = 1`)).toEqual({ [`${k}.a`]: 1 });
    }
    expect(wire('`in` in [1]')).toEqual({ in: { $in: [1] } });
    expect(wire('not `not` not exists')).toEqual({ $not: { not: { $exists: false } } });
    expect(await keys('`in` = 1')).toEqual(['ann']);
  });

  it('treats words that only start with a keyword as field names', () => {
    expect(wire('notes = 1 and order = 2 or india exists')).toEqual({
      $or: [{ $and: [{ notes: 1 }, { order: 2 }] }, { india: { $exists: true } }],
    });
    expect(wire('x = 1 and nullable = true')).toEqual({ $and: [{ x: 1 }, { nullable: true }] });
  });

  it('makes __proto__ an own key, never a prototype', async () => {
    const w = wire('__proto__ = 1');
    expect(Object.keys(w)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(w)).toBe(Object.prototype);
    expect(JSON.stringify(w)).toBe('{"__proto__":1}');
    expect(JSON.stringify(wire('a.__proto__.b exists'))).toBe('{"a.__proto__.b":{"$exists":true}}');
    const obj = wire('x = {"__proto__": {"y": 1}}');
    expect(JSON.stringify(obj)).toBe('{"x":{"$eq":{"__proto__":{"y":1}}}}');
    expect(({} as Record<string, unknown>).y).toBeUndefined();
    expect(await keys('__proto__.x = 1')).toEqual(['cy']);
    expect(await keys('__proto__ exists')).toEqual(['cy']);
    expect(await keys('constructor exists')).toEqual([]);
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

  it('reads "not path exists" as the negation of "path exists"', async () => {
    expect(wire('not age exists')).toEqual({ $not: { age: { $exists: true } } });
    expect(await keys('not age exists')).toEqual(await keys('age not exists'));
  });

  it('evaluates a combined filter', async () => {
    expect(await keys('age > 30 and city = "Oslo"')).toEqual(['ann']);
    expect(await keys('(city = "Oslo" or city = "Rome") and not tags contains "admin"')).toEqual(['bob', 'dee']);
    expect(await keys('age < 30 || email exists && name ~ /^c/i')).toEqual(['bob', 'cy']);
    expect(await keys('not (age >= 25 and age <= 35)')).toEqual(['cy', 'dee']);
  });
});

// ---- errors ------------------------------------------------------------------------

describe('errors', () => {
  it('is a FilterSyntaxError: an INVALID_QUERY KoruError with the column and option in details', () => {
    const e = failure('age >');
    expect(e).toBeInstanceOf(InvalidQueryError);
    expect(e).toBeInstanceOf(KoruError);
    expect(e.name).toBe('FilterSyntaxError');
    expect(e.code).toBe(ErrorCodes.INVALID_QUERY);
    expect(e.code).toBe('INVALID_QUERY');
    expect(e.message).toBe("--filter: expected a value after '>' at column 6");
    expect(e.column).toBe(6);
    expect(e.option).toBe('--filter');
    expect(e.details).toMatchObject({ column: 6, option: '--filter' });
    expect(e.toJSON().message).toBe(e.message);
  });

  it('names the option it is given', () => {
    const e = failure('a = ', '--where');
    expect(e.message).toBe("--where: expected a value after '=' at column 5");
    expect(e.details).toMatchObject({ column: 5, option: '--where' });
  });

  it.each(['', '   ', '\n\t '])('rejects an empty expression %j', (text) => {
    const e = failure(text);
    expect(e.message).toBe('--filter: the expression is empty');
    expect(e.column).toBe(1);
  });

  it.each<[string, string, number]>([
    // values
    ["age > ", "expected a value after '>' at column 7", 7],
    ["age >", "expected a value after '>' at column 6", 6],
    ["x in [1,]", "expected a value after ',' at column 9", 9],
    ["x in [", "expected a value after '[' at column 7", 7],
    ["x in [1 2]", "expected ',' or ']' at column 9", 9],
    ["x in [1, 2", "expected ']' at column 11 (to close the '[' at column 6)", 11],
    ["x in \"a\"", "expected a list after 'in' at column 6 (e.g. [\"a\", \"b\"])", 6],
    ["x not in 3", "expected a list after 'in' at column 10 (e.g. [\"a\", \"b\"])", 10],
    ["x contains", "expected a value after 'contains' at column 11", 11],
    ["x NOT CONTAINS", "expected a value after 'CONTAINS' at column 15", 15],
    ["x = /a/", "expected a value after '=' at column 5 (a /regex/ needs '~')", 5],
    ["x = {\"a\" 1}", "expected ':' after the key \"a\" at column 10", 10],
    ["x = {a: 1}", "expected a quoted key at column 6", 6],
    ["x = {\"a\": 1, \"a\": 2}", "duplicate key \"a\" in object at column 14", 14],
    ["x = {\"a\": 1", "expected '}' at column 12 (to close the '{' at column 5)", 12],
    ["x = 05", "invalid number '05' at column 5", 5],
    ["x = 1.", "invalid number '1.' at column 5", 5],
    ["x = .5", "expected a value after '=' at column 5", 5],
    ["x = -", "invalid number '-' at column 5", 5],
    ["x = -a", "invalid number '-a' at column 5", 5],
    ["x = 1e", "invalid number '1e' at column 5", 5],
    ["x = 1and y = 2", "invalid number '1and' at column 5", 5],
    ["x = 1e999", "number out of range '1e999' at column 5", 5],
    ["x = +1", "expected a value after '=' at column 5", 5],
    // bare words: one word only, never a path, never a keyword
    ["a = b.c", "'b.c' looks like a field, but a value cannot be a field at column 5 (for the text, quote it: \"b.c\")", 5],
    ["a = b.`c d`", "'b.`c d`' looks like a field, but a value cannot be a field at column 5 (for the text, quote it: \"b.`c d`\")", 5],
    ["a = true.x", "'true.x' looks like a field, but a value cannot be a field at column 5 (for the text, quote it: \"true.x\")", 5],
    ["a = b. and c = 1", "unquoted value 'b.' at column 5 (only a single word may go unquoted: write \"b.\")", 5],
    ["city = São Paulo", "unexpected 'Paulo' after the unquoted value 'São' at column 12 (quote a value of several words: \"São Paulo\")", 12],
    ["x in [New York]", "unexpected 'York' after the unquoted value 'New' at column 11 (quote a value of several words: \"New York\")", 11],
    ["e = a@b.com", "unquoted value 'a@b.com' at column 5 (only a single word may go unquoted: write \"a@b.com\")", 5],
    ["x = on-", "unquoted value 'on-' at column 5 (only a single word may go unquoted: write \"on-\")", 5],
    ["x = a$b", "unquoted value 'a$b' at column 5 (only a single word may go unquoted: write \"a$b\")", 5],
    ["x = in", "expected a value after '=' at column 5 ('in' is a keyword: write \"in\" for the text)", 5],
    ["x contains NOT", "expected a value after 'contains' at column 12 ('NOT' is a keyword: write \"NOT\" for the text)", 12],
    ["x = a ~ 1", "unexpected '~' at column 7 (expected 'and', 'or' or the end)", 7],
    // strings
    ["name = \"Ann", "unterminated string starting at column 8", 8],
    ["x = 1 and city = \"Oslo", "unterminated string starting at column 18", 18],
    ["x = 'abc", "unterminated string starting at column 5", 5],
    ["x = \"abc\\", "unterminated string starting at column 5", 5],
    ["x = \"a\\qb\"", "invalid escape '\\q' in string at column 7 (escapes are \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", 7],
    ["x = \"\\u12g4\"", "invalid escape '\\u' in string at column 6 (\\u needs 4 hex digits)", 6],
    ["x = \"a\nb\"", "control character U+000A in string at column 7 (write it as an escape: \\u000a)", 7],
    ["x = \"é🎉\\x\"", "invalid escape '\\x' in string at column 8 (escapes are \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", 8],
    // regexes
    ["x ~ 3", "expected a pattern after '~' at column 5 (a quoted string or /regex/flags)", 5],
    ["x !~", "expected a pattern after '!~' at column 5 (a quoted string or /regex/flags)", 5],
    ["x ~ /abc", "unterminated regex starting at column 5", 5],
    ["x ~ /a[/]", "unterminated regex starting at column 5", 5],
    ["x ~ /a\\", "unterminated regex starting at column 5", 5],
    ["x ~ /a/g", "invalid regex flags 'g' at column 8 (allowed: i m s u, each at most once)", 8],
    ["x ~ /a/ii", "invalid regex flags 'ii' at column 8 (allowed: i m s u, each at most once)", 8],
    ["x ~ /a/and y = 1", "invalid regex flags 'and' at column 8 (allowed: i m s u, each at most once)", 8],
    ["x ~ /(/", 'invalid regular expression: missing closing ): `(` at column 5', 5],
    ["x ~ \"(\" or y = 1", 'invalid regular expression: missing closing ): `(` at column 5', 5],
    ["x ~ /(a)\\1/", 'a $matches pattern uses backreference or octal escape \\1 at character 4, which linear-time (RE2) matching does not support at column 5', 5],
    ["x ~ /a(?=b)/i", 'a $matches pattern uses lookahead (?=...) at character 2, which linear-time (RE2) matching does not support at column 5', 5],
    ["x !~ /(?<!a)b/", 'a $matches pattern uses negative lookbehind (?<!...) at character 1, which linear-time (RE2) matching does not support at column 6', 6],
    [`x ~ "${'a'.repeat(1001)}"`, "a $matches pattern is longer than 1000 characters at column 5", 5],
    // operators
    ["age 30", "expected an operator after 'age' at column 5 (one of = != < <= > >= ~ !~ contains in exists)", 5],
    ["age", "expected an operator after 'age' at column 4 (one of = != < <= > >= ~ !~ contains in exists)", 4],
    ["a.`b c` => 1", "expected a value after '=' at column 10", 10],
    ["age === 1", "expected a value after '==' at column 7", 7],
    ["age <> 1", "expected a value after '<' at column 6", 6],
    ["a and b = 1", "expected an operator after 'a' at column 3 (one of = != < <= > >= ~ !~ contains in exists)", 3],
    ["x not 3", "expected 'exists', 'in' or 'contains' after 'not' at column 7", 7],
    ["x not", "expected 'exists', 'in' or 'contains' after 'not' at column 6", 6],
    // field names
    ["= 3", "expected a field name at column 1", 1],
    [" > 3", "expected a field name at column 2", 2],
    ["\"name\" = 1", "expected a field name at column 1 (quote field names with backticks: `name`)", 1],
    ["x = 1 and 'first name' = 1", "expected a field name after 'and' at column 11 (quote field names with backticks: `first name`)", 11],
    ["age > 30 and", "expected a field name after 'and' at column 13", 13],
    ["age > 30 || ", "expected a field name after '||' at column 13", 13],
    ["not", "expected a field name after 'not' at column 4", 4],
    ["!", "expected a field name after '!' at column 2", 2],
    ["not = 1", "expected a field name after 'not' at column 5", 5],
    ["()", "expected a field name after '(' at column 2", 2],
    ["a. = 1", "expected a field name after '.' at column 3", 3],
    ["a..b = 1", "expected a field name after '.' at column 3", 3],
    ["in = 1", "expected a field name at column 1 ('in' is a keyword: write `in` for a field of that name)", 1],
    ["x = 1 or TRUE = 1", "expected a field name after 'or' at column 10 ('TRUE' is a keyword: write `TRUE` for a field of that name)", 10],
    ["30 < age", "expected a field name at column 1 (a field name starting with a digit must be quoted: `30`)", 1],
    ["$gt = 1", "a field name must not start with '$' at column 1", 1],
    ["x = 1 and `$a`.b = 1", "a field name must not start with '$' at column 11", 11],
    ["`` = 1", "empty field name at column 1", 1],
    ["`a.b` = 1", "a field name cannot contain '.' at column 1 (keys with dots cannot be addressed)", 1],
    ["x.`first name = 1", "unterminated backtick-quoted name starting at column 3", 3],
    // structure
    ["age > 30 and x = 1)", "unexpected ')' at column 19", 19],
    ["a = 1) or (b = 2", "unexpected ')' at column 6", 6],
    ["(age > 30", "expected ')' at column 10 (to close the '(' at column 1)", 10],
    ["x = 1 and ((y = 2)", "expected ')' at column 19 (to close the '(' at column 11)", 19],
    ["(a = 1 b = 2)", "unexpected 'b' at column 8 (expected 'and', 'or' or ')')", 8],
    ["a = 1 b = 2", "unexpected 'b' at column 7 (expected 'and', 'or' or the end)", 7],
    ["a = 1 & b = 2", "unexpected '&' at column 7 (expected 'and', 'or' or the end)", 7],
    ["a = \"x\" \"y\"", "unexpected '\"' at column 9 (expected 'and', 'or' or the end)", 9],
    ["a = 1 ; b = 2", "unexpected ';' at column 7 (expected 'and', 'or' or the end)", 7],
    ["a # b", "expected an operator after 'a' at column 3 (one of = != < <= > >= ~ !~ contains in exists)", 3],
    ["名前 = 1 🎉", "unexpected '🎉' at column 8 (expected 'and', 'or' or the end)", 8],
  ])('%j', (text, message, column) => {
    const e = failure(text);
    expect(e.message).toBe(`--filter: ${message}`);
    expect(message).toContain(` at column ${column}`);
    expect(e.column).toBe(column);
    expect(e.details).toMatchObject({ column, option: '--filter' });
  });

  it('gives the exact messages for the documented examples', () => {
    expect(failure('age > ').message).toBe("--filter: expected a value after '>' at column 7");
    expect(failure('age > 30 or x = "Oslo').message).toBe('--filter: unterminated string starting at column 17');
    expect(failure('a = 1 or b = 2)').message).toBe("--filter: unexpected ')' at column 15");
    expect(failure('age > 1)').message).toBe("--filter: unexpected ')' at column 8");
    expect(failure('= 1').message).toBe('--filter: expected a field name at column 1');
    expect(failure('a = b.c').message).toBe(
      '--filter: \'b.c\' looks like a field, but a value cannot be a field at column 5 (for the text, quote it: "b.c")',
    );
  });

  it('keeps the underlying error as the cause', () => {
    const bad = failure('x ~ /(/u');
    expect(bad.cause).toBeInstanceOf(InvalidQueryError);
    expect(bad.message).toBe('--filter: invalid regular expression: missing closing ): `(` at column 5');
    const long = failure(`x ~ /${'a'.repeat(1001)}/`);
    expect(long.cause).toBeInstanceOf(InvalidQueryError);
    expect(long.message).toBe('--filter: a $matches pattern is longer than 1000 characters at column 5');
  });

  it('limits nesting instead of overflowing the stack', () => {
    expect(wire(`${'('.repeat(100)}a = 1${')'.repeat(100)}`)).toEqual({ a: 1 });
    // The query layer's bound on one filter (64 levels): 63 nots over a condition pass.
    expect(wire(`${'not '.repeat(63)}a = 1`)).toBeDefined();
    const deep = failure(`${'not '.repeat(100)}a = 1`);
    expect(deep.message).toMatch(/^--filter: a filter may nest at most 64 levels deep .* at column 1$/);
    expect(deep.cause).toBeInstanceOf(InvalidQueryError);
    expect(failure(`${'('.repeat(129)}a = 1${')'.repeat(129)}`).message).toBe(
      '--filter: the expression is nested too deeply at column 129 (at most 128 levels)',
    );
    expect(failure(`${'!'.repeat(10_000)}a = 1`).column).toBe(129);
    expect(failure(`a = ${'['.repeat(10_000)}`).message).toContain('nested too deeply at column 133');
    expect(failure(`a = ${'{"a":'.repeat(200)}1`).message).toContain('nested too deeply');
  });
});

// ---- properties --------------------------------------------------------------------

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
  it('random filter → printed expression → parseFilterExpression gives the builder’s wire form', () => {
    fc.assert(
      fc.property(astArb, fc.integer({ min: 0, max: 0x7fffffff }), (ast, seed) => {
        const rnd = prng(seed);
        const text = new Printer(rnd).print(ast);
        const expected = toWire(toFilter(ast));
        const got = parseFilterExpression(text);
        expect(JSON.stringify(got), text).toBe(JSON.stringify(expected));
        expect(JSON.stringify(toWire(parseFilter(got)))).toBe(JSON.stringify(got));
        expect(({} as Record<string, unknown>).a).toBeUndefined();
      }),
      { seed: fcSeed('filter expression round trip'), numRuns: 1000 },
    );
  });

  it('and/or/not precedence gives the same results as JavaScript’s !, && and ||', async () => {
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

    const ns = 'bools';
    const docs: Record<string, Record<string, boolean>> = {};
    const states = [true, false, undefined];
    for (const p of states) for (const q of states) for (const r of states) {
      const doc: Record<string, boolean> = {};
      if (p !== undefined) doc.p = p;
      if (q !== undefined) doc.q = q;
      if (r !== undefined) doc.r = r;
      docs[`d${Object.keys(docs).length}`] = doc;
    }
    for (const [k, v] of Object.entries(docs)) await db.put(ns, k, v);

    await fc.assert(
      fc.asyncProperty(boolArb, async (b) => {
        const text = show(b, 0);
        const { rows } = await db.query(ns, { filter: wire(text) });
        const expected = Object.keys(docs).filter((k) => evalB(b, docs[k]!)).sort();
        expect(rows.map((r) => r.key).sort(), text).toEqual(expected);
      }),
      { seed: fcSeed('filter expression precedence'), numRuns: 300 },
    );
  });
});
