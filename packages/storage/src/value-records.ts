/**
 * Value records (see version-records.ts, "Value record"): a large value's canonical text,
 * stored once.
 */
import { allocateRecord } from './record-slab.js';
import { corrupt } from './record-names.js';
import { checkText, encodeText, readText, textScratch } from './record-text.js';

/** Tag of a value record (it holds the text). */
export const VALUE_TEXT = 0;

/** What a value record holds: its text (canonical JSON). */
export interface ValueRecord {
  readonly text: string;
}

/** The value of a text value record (tag 0): `text` (canonical JSON) as UTF-8 (shared buffer, as {@link encodeVersionRecord}'s). @throws InvalidArgumentError for empty or ill-formed text */
export function encodeValueRecord(text: string): Uint8Array {
  checkText(text, 'value text');
  const n = encodeText(text);
  const out = allocateRecord(1 + n);
  out[0] = VALUE_TEXT;
  out.set(textScratch.subarray(0, n), 1);
  return out;
}

/**
 * A value record's value: its text.
 * @throws CorruptionError for a tag other than 0 (tag 1 of an earlier layout
 *   included), empty or non-UTF-8 text
 */
export function decodeValueRecord(bytes: Uint8Array): ValueRecord {
  if (bytes.length < 2) throw corrupt('value record: truncated', 0);
  const tag = bytes[0]!;
  if (tag !== VALUE_TEXT) throw corrupt(`value record: tag ${tag}`, 0);
  return { text: readText(bytes, 1, 'value record') };
}
