/**
 * Pushing: the local versions this database wrote, after the push cursor, in seq order,
 * in batches; the cursor moves only on the server's answer.
 *
 * Only versions written here (`node === db.nodeId`) are pushed: those pulled from the
 * server are there already (pushing them back would double the traffic for nothing).
 * A version whose predecessor the server lacks — written on top of a version that came
 * from elsewhere than this server (an import, another server, a server restored from an
 * older backup) — comes back as an orphan; then its key's whole local history is pushed
 * (whoever wrote it: duplicates are skipped there) and the orphans again.
 */
import { committedAfter, utf8Length, type CausalStorage, type ImportedVersion, type SeqVersion, type Version } from '@koru/storage';
import type { KoruClient } from '@koru/client';
import { InvalidArgumentError } from '@koru/engine';
import { MAX_SYNC_PUSH_VERSIONS } from './types.js';

/** Versions a push batch carries at most (under the server's limit). */
export const PUSH_BATCH_VERSIONS = 500;
/** JSON bytes a push batch carries at most (well under the WebSocket payload limit); a larger single version goes alone. */
export const PUSH_BATCH_BYTES = 1024 * 1024;

/** The fields of a version the server checks (a pulled `seq`, `previousCut` are local). */
export function wireVersion(v: Version): ImportedVersion {
  return { namespace: v.namespace, key: v.key, value: v.value, valueId: v.valueId, timestamp: v.timestamp, versionId: v.versionId, previousVersion: v.previousVersion, hlc: v.hlc, node: v.node, deleted: v.deleted };
}

/** True for a version this database wrote, in the synced namespaces (the reserved one is never synced). */
export function isOwn(v: Version, node: string, namespaces: ReadonlySet<string> | undefined): boolean {
  return v.node === node && v.namespace !== '_koru' && (namespaces === undefined || namespaces.has(v.namespace));
}

/** How many versions with a seq in (from, to] {@link isOwn} selects. O(versions). */
export function countOwn(storage: CausalStorage, from: number, to: number, node: string, namespaces: ReadonlySet<string> | undefined): number {
  if (to <= from) return 0;
  let n = 0;
  for (const v of storage.committed(from + 1, to)) if (isOwn(v, node, namespaces)) n++;
  return n;
}

/** One pushed batch: through which local seq, and how many of its versions were this database's. */
export interface Pushed {
  readonly through: number;
  readonly own: readonly SeqVersion[];
}

/**
 * Pushes the next batch after local seq `cursor` (undefined when there is nothing
 * after it). Orphans are repaired as the module doc says.
 * @throws what the server answers (INVALID_ARGUMENT, CLOCK_SKEW...), IO_ERROR, CLOSED;
 *   INVALID_ARGUMENT when orphans remain after the repair
 */
export async function pushNext(client: KoruClient, storage: CausalStorage, cursor: number, node: string, namespaces: ReadonlySet<string> | undefined): Promise<Pushed | undefined> {
  if (cursor >= storage.seq) return undefined;
  const batch = committedAfter(storage, cursor, { limit: PUSH_BATCH_VERSIONS, maxBytes: PUSH_BATCH_BYTES, ...(namespaces !== undefined ? { namespaces } : {}) });
  const own = batch.versions.filter((v) => isOwn(v, node, namespaces));
  if (own.length > 0) {
    const r = await client.syncPush(own.map(wireVersion));
    if (r.orphans.length > 0) await repairOrphans(client, storage, own, r.orphans);
  }
  return { through: batch.next, own };
}

async function repairOrphans(client: KoruClient, storage: CausalStorage, sent: readonly Version[], orphanIds: readonly string[]): Promise<void> {
  const byId = new Map(sent.map((v) => [v.versionId, v]));
  const keys = new Map<string, Version>();
  for (const id of orphanIds) {
    const v = byId.get(id);
    if (v !== undefined) keys.set(JSON.stringify([v.namespace, v.key]), v);
  }
  for (const v of keys.values()) {
    const history = storage.history(v.namespace, v.key).map(wireVersion);
    for (const chunk of chunks(history)) await client.syncPush(chunk);
  }
  const again = await client.syncPush(orphanIds.map((id) => byId.get(id)).filter((v): v is Version => v !== undefined).map(wireVersion));
  if (again.orphans.length > 0) {
    throw new InvalidArgumentError(`the server keeps ${again.orphans.length} pushed versions as orphans (their predecessors are unknown there, and not in this database's history either): first ${again.orphans[0]}`);
  }
}

/** `items` in batches under the push limits. */
function* chunks(items: readonly ImportedVersion[]): Generator<ImportedVersion[]> {
  let batch: ImportedVersion[] = [];
  let bytes = 0;
  for (const it of items) {
    const size = utf8Length(JSON.stringify(it));
    if (batch.length > 0 && (batch.length >= Math.min(PUSH_BATCH_VERSIONS, MAX_SYNC_PUSH_VERSIONS) || bytes + size > PUSH_BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(it);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
