/**
 * The UTF-8 text inside record values: encoded into a shared scratch buffer (then copied
 * once into the exact-size record), decoded strictly.
 */
import { InvalidArgumentError, isWellFormedString } from '@koru/engine';
import { CorruptionError } from './errors.js';
import { utf8 } from './record-names.js';

const encoder = new TextEncoder();
/** The buffer {@link encodeText} wrote into last (replaced when too small: read it after the call). */
export let textScratch = new Uint8Array(4096);

/**
 * Encodes well-formed `text` into a shared scratch buffer; returns its UTF-8 length.
 * Native encoding into spare room, then one native copy into the exact-size record:
 * measured faster than a JavaScript loop for texts over ~20 bytes (and no length pass).
 */
export function encodeText(text: string): number {
  if (textScratch.length < text.length * 3) textScratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, textScratch).written;
}

/** `b[start…]` as text. @throws CorruptionError unless UTF-8 */
export function readText(b: Uint8Array, start: number, what: string): string {
  try {
    return utf8.decode(start === 0 ? b : b.subarray(start));
  } catch (cause) {
    throw new CorruptionError(`malformed ${what}: its text is not UTF-8`, { offset: start }, cause);
  }
}

/** Throws unless `text` is non-empty well-formed text. */
export function checkText(text: string, what: string): void {
  if (typeof text !== 'string' || text.length === 0 || !isWellFormedString(text)) throw new InvalidArgumentError(`${what} must be non-empty well-formed text`);
}
