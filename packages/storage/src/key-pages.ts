/**
 * Listings: pages of a namespace's live keys ({@link CausalStorage.listKeys}), so a
 * console can walk 100,000 keys a page at a time, by prefix, without reading any it does
 * not show; and from the store's counters, a namespace's live-key count
 * ({@link CausalStorage.countKeys}) and the namespaces holding live keys.
 *
 * A page is one range scan of the namespace's head records (version-store.ts, `keys`):
 * a seek to the first key at or after the prefix (and after `after`), steps in key order,
 * and a stop at the first key past the prefix or once `limit` live keys are found.
 * Tombstoned keys are stepped over, never counted, so a page is short only at the end of
 * the range: chaining pages by `after` = the last key of the previous one lists every
 * live key exactly once.
 */
import { InvalidArgumentError, isWellFormedString, utf8Length } from '@koru/engine';
import { MAX_KEY_BYTES, SYSTEM_NAMESPACE, validateNamespace } from './names.js';
import type { StoreContext } from './store-context.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** Largest {@link ListKeysOptions.limit}: the most keys one page holds. */
export const MAX_LIST_KEYS_LIMIT = 100_000;

/**
 * Options of {@link CausalStorage.listKeys}: one page of a namespace's live keys. Keys
 * are in UTF-8 byte order. `prefix` and `after` combine: the page starts at the later
 * of the prefix's first key and the first key after `after` (an `after` before the
 * prefix's keys starts the page at the prefix; one past them gives an empty page).
 */
export interface ListKeysOptions {
  /** Only keys starting with this ('' : every key). A string a key could start with: well-formed, no NUL, at most 1,024 UTF-8 bytes. */
  readonly prefix?: string;
  /** Only keys after this one, in key order (it need not exist; '' : from the start). The same form as `prefix`. */
  readonly after?: string;
  /** At most this many keys: an integer from 1 to {@link MAX_LIST_KEYS_LIMIT} (default: every key). */
  readonly limit?: number;
}

const OPTION_NAMES: readonly string[] = ['prefix', 'after', 'limit'] satisfies ReadonlyArray<keyof ListKeysOptions>;

/** `s` if it could start a key (a prefix or a bound of a page). @throws InvalidArgumentError */
function keyBound(name: string, s: unknown): string {
  if (typeof s !== 'string') throw new InvalidArgumentError(`listKeys ${name} must be a string, not ${s === null ? 'null' : typeof s}`);
  if (s.includes('\u0000')) throw new InvalidArgumentError(`listKeys ${name} must not contain NUL (no key does)`);
  if (!isWellFormedString(s)) throw new InvalidArgumentError(`listKeys ${name} contains a lone surrogate (not valid UTF-8)`);
  if (s.length > MAX_KEY_BYTES / 3 && utf8Length(s) > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(`listKeys ${name} is ${utf8Length(s)} UTF-8 bytes, over the key limit of ${MAX_KEY_BYTES}`);
  }
  return s;
}

/**
 * The checked options: undefined and null are none; anything but an object, an
 * unknown name, or a value of the wrong type or range is refused (never ignored).
 * Options set to `undefined` count as absent.
 * @throws InvalidArgumentError
 */
export function pageOptions(options: unknown): { prefix: string; after: string | undefined; limit: number } {
  if (options === undefined || options === null) return { prefix: '', after: undefined, limit: Number.POSITIVE_INFINITY };
  if (typeof options !== 'object' || Array.isArray(options) || options instanceof Date) {
    const got = typeof options === 'string' ? `the string ${JSON.stringify(options)}` : Array.isArray(options) ? 'an array' : options instanceof Date ? 'a Date' : typeof options;
    throw new InvalidArgumentError(`listKeys options must be an object ({ ${OPTION_NAMES.join(', ')} }), not ${got}`);
  }
  for (const k of Object.keys(options)) {
    if (!OPTION_NAMES.includes(k)) throw new InvalidArgumentError(`unknown listKeys option ${JSON.stringify(k)} (known: ${OPTION_NAMES.join(', ')})`, { details: { option: k } });
  }
  const { prefix, after, limit } = options as { prefix?: unknown; after?: unknown; limit?: unknown };
  if (limit !== undefined && !(typeof limit === 'number' && Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIST_KEYS_LIMIT)) {
    throw new InvalidArgumentError(`listKeys limit must be an integer from 1 to ${MAX_LIST_KEYS_LIMIT}, not ${typeof limit === 'number' ? limit : typeof limit}`);
  }
  return {
    prefix: prefix === undefined ? '' : keyBound('prefix', prefix),
    after: after === undefined ? undefined : keyBound('after', after),
    limit: limit === undefined ? Number.POSITIVE_INFINITY : limit,
  };
}

/** See {@link CausalStorage.listKeys}. O(log n + keys stepped over) seeks and steps; no value read. */
export function listKeyPage(ctx: StoreContext, namespace: string, options: ListKeysOptions | undefined): string[] {
  ctx.checkOpen();
  validateNamespace(namespace);
  const { prefix, after, limit } = pageOptions(options);
  const out: string[] = [];
  for (const k of ctx.store.keys(namespace, prefix, after)) {
    if (k.deleted) continue;
    out.push(k.key);
    if (out.length >= limit) break;
  }
  return out;
}

/** See {@link CausalStorage.countKeys}. O(1): the counter every commit keeps. */
export function countLiveKeys(ctx: StoreContext, namespace: string): number {
  ctx.checkOpen();
  validateNamespace(namespace);
  return ctx.store.counters.liveKeys(namespace);
}

/** See {@link CausalStorage.listNamespaces}. O(namespaces): from the store's counters. */
export function liveNamespaces(ctx: StoreContext): string[] {
  ctx.checkOpen();
  const out: string[] = [];
  for (const [ns, live] of ctx.store.counters.namespaces()) if (live > 0 && ns !== SYSTEM_NAMESPACE) out.push(ns);
  return out.sort();
}
