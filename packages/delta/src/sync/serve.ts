/**
 * The server side of local-first sync: the `syncPull` and `syncPush` calls of the
 * WebSocket protocol (apps/server/src/calls.ts runs them). Pull hands out the versions
 * committed after a seq (the database's change numbers), push merges a client's
 * versions by the cluster's rule (`applyReplicated`: duplicates skipped, orphans handed
 * back, clock order picks the head, the same clock-skew limit as replication).
 */
import { InvalidArgumentError, InvalidNamespaceError } from '@koru/engine';
import { LimitExceededError } from '@koru/query/errors';
import { committedAfter, type CausalStorage, type ImportedVersion } from '@koru/storage';
import { SYSTEM_NAMESPACE, validateNamespace } from '@koru/storage/names';
import { MAX_SYNC_PULL_BYTES, MAX_SYNC_PULL_VERSIONS, MAX_SYNC_PUSH_VERSIONS, type SyncPullResult, type SyncPushResult } from './types.js';

const PULL_OPTIONS = new Set(['namespaces', 'limit']);

/** The namespaces option as a set (undefined: all). @throws INVALID_ARGUMENT, INVALID_NAMESPACE */
export function namespaceSet(namespaces: unknown): ReadonlySet<string> | undefined {
  if (namespaces === undefined || namespaces === null) return undefined;
  if (!Array.isArray(namespaces) || namespaces.length === 0) throw new InvalidArgumentError('namespaces must be a non-empty array of namespace names');
  for (const ns of namespaces as unknown[]) {
    if (typeof ns !== 'string') throw new InvalidArgumentError(`namespaces must hold strings, not ${typeof ns}`);
    if (ns === SYSTEM_NAMESPACE) throw new InvalidNamespaceError(`the reserved namespace ${SYSTEM_NAMESPACE} is not synced: index and view definitions are each database's own`);
    validateNamespace(ns);
  }
  return new Set(namespaces as string[]);
}

/**
 * The versions committed in `storage` after seq `since` (see {@link SyncPullResult}),
 * at most `options.limit` (≤ {@link MAX_SYNC_PULL_VERSIONS}) and about
 * {@link MAX_SYNC_PULL_BYTES} of JSON; never the reserved namespace.
 * @throws INVALID_ARGUMENT for a `since` that is not a non-negative integer, or bad
 *   options; INVALID_NAMESPACE for a bad or reserved namespace
 */
export function syncPull(storage: CausalStorage, since: unknown, options: unknown = {}): SyncPullResult {
  if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) throw new InvalidArgumentError(`since must be a non-negative integer (a seq), not ${JSON.stringify(since) ?? typeof since}`);
  options ??= {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError('syncPull options must be an object');
  for (const k of Object.keys(options)) if (!PULL_OPTIONS.has(k)) throw new InvalidArgumentError(`unknown syncPull option ${JSON.stringify(k)} (known: namespaces, limit)`);
  const o = options as { namespaces?: unknown; limit?: unknown };
  const limit = o.limit ?? MAX_SYNC_PULL_VERSIONS;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SYNC_PULL_VERSIONS) {
    throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_SYNC_PULL_VERSIONS}, not ${JSON.stringify(limit) ?? typeof limit}`);
  }
  const namespaces = namespaceSet(o.namespaces);
  return committedAfter(storage, since, { limit, maxBytes: MAX_SYNC_PULL_BYTES, ...(namespaces !== undefined ? { namespaces } : {}) });
}

/**
 * Merges a client's versions into `storage` as replication does: checked whole (a
 * version whose id does not match its fields, or any bad item, refuses the batch:
 * nothing stored), duplicates skipped, orphans handed back by id.
 * @throws INVALID_ARGUMENT (not an array, a bad or forged item), LIMIT_EXCEEDED (more
 *   than {@link MAX_SYNC_PUSH_VERSIONS}), INVALID_NAMESPACE (the reserved namespace or a
 *   bad name), CLOCK_SKEW (stamped too far ahead of this server's clock)
 */
export async function syncPush(storage: CausalStorage, versions: unknown): Promise<SyncPushResult> {
  if (!Array.isArray(versions)) throw new InvalidArgumentError('syncPush expects an array of versions');
  if (versions.length > MAX_SYNC_PUSH_VERSIONS) {
    throw new LimitExceededError(`syncPush takes at most ${MAX_SYNC_PUSH_VERSIONS} versions at once, not ${versions.length}: send smaller batches`, MAX_SYNC_PUSH_VERSIONS);
  }
  const items: ImportedVersion[] = [];
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i] as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`syncPush item ${i} is not a version object`);
    const it = v as ImportedVersion;
    if (it.namespace === SYSTEM_NAMESPACE) throw new InvalidNamespaceError(`syncPush item ${i}: the reserved namespace ${SYSTEM_NAMESPACE} is not synced`);
    // Only the fields of a version: a pulled `seq` (the sender's change number) or
    // `previousCut` mean nothing here.
    items.push({
      namespace: it.namespace,
      key: it.key,
      value: it.value,
      ...(it.valueId !== undefined ? { valueId: it.valueId } : {}),
      ...(it.timestamp !== undefined ? { timestamp: it.timestamp } : {}),
      versionId: it.versionId,
      previousVersion: it.previousVersion,
      hlc: it.hlc,
      node: it.node,
      deleted: it.deleted,
    });
  }
  if (items.length === 0) return { applied: 0, duplicates: 0, orphans: [] };
  const r = await storage.applyReplicated(items);
  return { applied: r.applied.length, duplicates: r.duplicates, orphans: r.orphans.map((o) => o.versionId) };
}
