// Filter expressions that are refused: FilterSyntaxError, its message naming the option and
// the column, for every kind of mistake; nesting limits.
import { ErrorCodes, KoruError } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import { InvalidQueryError } from '../src/errors.js';
import { parseFilterSyntax } from '../src/filter-expression.js';
import { failure, wire } from './filter-expression-helpers.js';

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
    // The syntax alone refuses the same, bar what the query layer refused (the patterns).
    if (e.cause instanceof InvalidQueryError) expect(parseFilterSyntax(text)).toBeDefined();
    else expect(failure(text, undefined, parseFilterSyntax).message).toBe(e.message);
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
