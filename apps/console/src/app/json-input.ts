/** Parsing what a person typed as JSON, with the line and column of the first mistake. */
import type { JsonValue } from '@koru/client';

/** The value, or the error with where it is. */
export type Parsed = { readonly ok: true; readonly value: JsonValue } | { readonly ok: false; readonly message: string };

/** Parses `text` as one JSON value; V8's "at position N" becomes "line L, column C". */
export function parseJson(text: string): Parsed {
  if (text.trim() === '') return { ok: false, message: 'Enter a JSON value (for a text, quote it: "hello").' };
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const at = /position (\d+)/.exec(message);
    if (at === null) return { ok: false, message };
    const pos = Number(at[1]);
    const before = text.slice(0, pos).split('\n');
    return { ok: false, message: `${message.replace(/ in JSON at position \d+.*$/, '').replace(/ at position \d+.*$/, '')} (line ${before.length}, column ${before[before.length - 1]!.length + 1})` };
  }
}
