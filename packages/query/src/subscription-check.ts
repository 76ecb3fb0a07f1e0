/**
 * `checkSubscription`: the checks `subscribe` makes of its arguments, bar the filter's
 * contents, made without a change source and without the filter compiler (and so without
 * its regular-expression engine, the largest part of this package). For a handle whose
 * feed runs elsewhere — a browser database, whose feed runs in its worker — so that a
 * page which does not load the query engine still refuses a bad spec at once, with the
 * error `subscribe` gives. The filter is checked where the feed runs (`subscribe` there
 * refuses it with INVALID_QUERY). Kept apart from ./changes.ts, which imports the
 * compiler; test/subscription-check.test.ts holds the two to the same verdicts.
 */
import { InvalidArgumentError } from '@koru/engine';
import type { ChangeType } from '@koru/storage';
import { validateKey, validateNamespace } from '@koru/storage/names';
import type { SubscriptionSpec } from './changes.js';

const TYPES: ReadonlySet<unknown> = new Set<ChangeType>(['insert', 'update', 'delete']);
const SPEC_KEYS: ReadonlySet<string> = new Set(['namespace', 'key', 'filter', 'types', 'since', 'until', 'bufferSize']);

/**
 * Checks `subscribe(spec, handler)`'s arguments as `subscribe` does, except the filter's
 * contents and whether `since` is past the source's head (which only the source knows).
 * @throws INVALID_ARGUMENT, INVALID_NAMESPACE, INVALID_KEY (the errors `subscribe` gives)
 */
export function checkSubscription(spec: SubscriptionSpec, handler: unknown): void {
  if (typeof handler !== 'function') throw new InvalidArgumentError('subscribe needs a handler function');
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new InvalidArgumentError('a subscription spec must be an object');
  for (const k of Object.keys(spec)) {
    if (!SPEC_KEYS.has(k)) throw new InvalidArgumentError(`unknown subscription option ${JSON.stringify(k)}`);
  }
  const { namespace, key, types, bufferSize, since, until } = spec;
  if (namespace !== undefined) validateNamespace(namespace);
  if (key !== undefined) {
    if (namespace === undefined) throw new InvalidArgumentError('a key subscription needs its namespace');
    validateKey(key);
  }
  if (types !== undefined && (!Array.isArray(types) || types.some((t) => !TYPES.has(t)))) {
    throw new InvalidArgumentError("types must be a list of 'insert', 'update' and 'delete'");
  }
  if (bufferSize !== undefined && (!Number.isInteger(bufferSize) || bufferSize < 1)) throw new InvalidArgumentError('bufferSize must be a positive integer');
  if (since !== undefined && (!Number.isInteger(since) || since < 0)) {
    throw new InvalidArgumentError(`since must be a seq of at least 0, not ${String(since)}`);
  }
  // Without `since` the feed starts at the source's head, unknown here: `until` is then
  // checked only for being a seq.
  if (until !== undefined && (!Number.isInteger(until) || until < (since ?? 0))) {
    throw new InvalidArgumentError(`until must be a seq of at least since (${since ?? 0}), not ${String(until)}`);
  }
}
