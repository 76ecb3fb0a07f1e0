/**
 * `@koru/query/filter-expression`: filter expressions, the human syntax of
 * `kdelta query --filter` (and of a query editor in a page), parsed into the query
 * layer's JSON wire form (the MongoDB-style objects `parseFilter` reads).
 *
 * The block below is the user-facing grammar (`kdelta query --help` prints a summary of
 * it, kept in apps/cli's query command):
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
 * objects nest at most 128 deep.
 *
 * Two steps, two entries:
 * - syntax: {@link parseFilterSyntax}, from this light entry (and the main one): text to
 *   wire form, refusing what the grammar does not allow. It needs nothing of the filter
 *   compiler, so a browser page that imports only this entry carries neither the
 *   regular-expression engine (re2js) nor the indexes' B-tree (sorted-btree); the filter
 *   is checked where it is run (a query or subscription refuses it with INVALID_QUERY).
 * - syntax and meaning: `parseFilterExpression` / `parseFilterExpressions`, from the main
 *   entry `@koru/query` only (what `kdelta` uses). They also check each comparison as
 *   `parseFilter` does, so `~` means exactly what `$regex` means (RE2; a pattern it
 *   refuses is reported at the pattern's column), and the whole filter against the
 *   bounds of one filter (64 levels, 1,000 conditions, 10,000 listed values, 16
 *   patterns; reported at column 1). Text they accept gives the same wire form as here.
 */
import { parseExpression } from './filter-expression/parser.js';
import type { WireFilter } from './wire.js';

export { FilterSyntaxError } from './filter-expression/syntax-error.js';

/**
 * Parses a filter expression (grammar in the module comment) into its wire form, checking
 * the syntax only: a pattern is not compiled and the bounds of one filter are not
 * counted (the query or subscription that runs the filter checks those; the main entry's
 * `parseFilterExpression` checks them here). `option` prefixes error messages.
 * O(length of `text`).
 * @throws FilterSyntaxError (INVALID_QUERY) naming the option and the column
 */
export function parseFilterSyntax(text: string, option = '--filter'): WireFilter {
  return parseExpression(text, option, undefined);
}
