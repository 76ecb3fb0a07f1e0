/**
 * Local state: small named JSON records a layer above keeps in the store for itself —
 * such as a sync's cursors (where it pulled a server through, what it pushed) — that
 * are neither versions nor replicated nor exported:
 *
 *   key:   'L' | name(name)        value: the state as JSON (UTF-8)
 *
 * Written through the engine's normal write path (log, memtable, segments), like the
 * retention records (retention.ts): a state survives a restart as any write does, under
 * the adapter's durability policy. It is not synced on its own: every use so far (sync
 * cursors) is safe when a crash loses the last update, since it then only redoes work.
 * Keeping them as versions instead would grow history with every update.
 *
 * Browser-safe: no Node module is used.
 */
import { InvalidArgumentError } from '@koru/engine';
import { CorruptionError } from './errors.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { KIND_PUT } from './lsm/types.js';
import { encodeName } from './record-names.js';

/** First byte of a local-state record's key. */
export const TAG_LOCAL_STATE = 'L';

/** Longest local-state name, in UTF-16 units. */
export const MAX_LOCAL_STATE_NAME = 256;

/** Largest local state, as JSON text in UTF-8 bytes: these are small bookkeeping records. */
export const MAX_LOCAL_STATE_BYTES = 64 * 1024;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function keyOf(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_LOCAL_STATE_NAME) {
    throw new InvalidArgumentError(`a local state name is a string of 1 to ${MAX_LOCAL_STATE_NAME} characters, not ${typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : typeof name}`);
  }
  return TAG_LOCAL_STATE + encodeName(name);
}

/**
 * The state stored under `name`, parsed (undefined when none).
 * @throws InvalidArgumentError for a bad name; CorruptionError for a record that is not JSON
 */
export function readLocalState(tree: LsmTree, name: string): unknown {
  const stored = tree.get(keyOf(name));
  if (stored === undefined) return undefined;
  try {
    return JSON.parse(utf8Decoder.decode(stored)) as unknown;
  } catch (cause) {
    throw new CorruptionError(`the local state ${JSON.stringify(name)} is not JSON`, { record: name }, cause);
  }
}

/**
 * Stores `value` (any JSON value) under `name`, replacing what was there; `undefined`
 * removes it. One record through the log, not synced on its own.
 * @throws InvalidArgumentError for a bad name, a value with no JSON form, or one over
 *   {@link MAX_LOCAL_STATE_BYTES}; the tree's I/O errors
 */
export function writeLocalState(tree: LsmTree, name: string, value: unknown): void {
  const key = keyOf(name);
  if (value === undefined) {
    tree.delete(key);
    return;
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new InvalidArgumentError(`local state ${JSON.stringify(name)} has no JSON form: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (text === undefined) throw new InvalidArgumentError(`local state ${JSON.stringify(name)} has no JSON form`);
  const bytes = utf8Encoder.encode(text);
  if (bytes.length > MAX_LOCAL_STATE_BYTES) throw new InvalidArgumentError(`local state ${JSON.stringify(name)} is ${bytes.length} bytes; at most ${MAX_LOCAL_STATE_BYTES}`);
  tree.write([{ key, kind: KIND_PUT, value: bytes }]);
}
