/**
 * The calls of the WebSocket protocol: a `KoruDelta` method name and its positional
 * arguments as JSON (PROTOCOL.md). Only these names can be called.
 */
import { InvalidArgumentError, serveSyncPull, serveSyncPush, UnsupportedError, type KoruDelta } from '@koru/delta';
import type { CausalStorage } from '@koru/storage';
import { embeddedStorage } from './embedded.js';

type Call = (db: KoruDelta, params: readonly unknown[]) => unknown;

/* eslint-disable @typescript-eslint/no-explicit-any -- arguments are validated by the database itself */
const p = (params: readonly unknown[]): any[] => params as any[];

/** The engine browser sync reads and merges into; a store has none (UNSUPPORTED). */
function syncStorage(db: KoruDelta): CausalStorage {
  const storage = embeddedStorage(db);
  if (storage === undefined) throw new UnsupportedError('browser sync is not served on a PostgreSQL store: its servers share one database; call the server (REST or WebSocket) instead of syncing a copy');
  return storage;
}

/** `params` unless it has more than `n` (an argument this server does not know would be ignored: refused instead). */
function atMost(params: readonly unknown[], n: number, method: string): readonly unknown[] {
  if (params.length > n) throw new InvalidArgumentError(`${method} takes at most ${n} params, got ${params.length}`);
  return params;
}

export const CALLS: ReadonlyMap<string, Call> = new Map<string, Call>([
  ['put', (db, a) => db.put(p(a)[0], p(a)[1], p(a)[2], p(a)[3])],
  ['putMany', (db, a) => db.putMany(p(a)[0])],
  ['get', (db, a) => db.get(p(a)[0], p(a)[1])],
  ['getVersion', (db, a) => db.getVersion(p(a)[0], p(a)[1])],
  ['getAt', (db, a) => db.getAt(p(a)[0], p(a)[1], p(a)[2])],
  ['history', (db, a) => db.history(p(a)[0], p(a)[1], p(a)[2])],
  ['diff', (db, a) => db.diff(p(a)[0], p(a)[1], p(a)[2])],
  ['delete', (db, a) => db.delete(p(a)[0], p(a)[1], p(a)[2])],
  ['contains', (db, a) => db.contains(p(a)[0], p(a)[1])],
  ['listNamespaces', (db) => db.listNamespaces()],
  ['listKeys', (db, a) => db.listKeys(p(atMost(a, 2, 'listKeys'))[0], p(a)[1])],
  ['countKeys', (db, a) => db.countKeys(p(atMost(a, 1, 'countKeys'))[0])],
  ['stats', (db) => db.stats()],
  ['verify', (db) => db.verify()],
  ['stateRoot', (db) => db.stateRoot()],
  ['query', (db, a) => db.query(p(a)[0], p(a)[1], p(a)[2])],
  ['aggregate', (db, a) => db.aggregate(p(a)[0], p(a)[1], p(a)[2])],
  ['queryHistory', (db, a) => db.queryHistory(p(a)[0], p(a)[1])],
  ['createIndex', (db, a) => db.createIndex(p(a)[0], p(a)[1])],
  ['dropIndex', (db, a) => db.dropIndex(p(a)[0], p(a)[1])],
  ['listIndexes', (db, a) => db.listIndexes(p(a)[0])],
  ['createView', (db, a) => db.createView(p(a)[0])],
  ['listViews', (db) => db.listViews()],
  ['refreshView', (db, a) => db.refreshView(p(a)[0])],
  ['queryView', (db, a) => db.queryView(p(a)[0])],
  ['deleteView', (db, a) => db.deleteView(p(a)[0])],
  ['importVersions', (db, a) => db.importVersions(p(a)[0])],
  ['setRetention', (db, a) => db.setRetention(p(a)[0], p(a)[1])],
  ['retention', (db, a) => db.retention(p(a)[0])],
  ['retentionPolicies', (db) => db.retentionPolicies()],
  ['purge', (db, a) => db.purge(p(a)[0], p(a)[1])],
  // Local-first sync (KoruDelta.sync): versions after a seq, and versions merged by the cluster's rule.
  ['syncPull', (db, a) => serveSyncPull(syncStorage(db), a[0], a[1])],
  ['syncPush', (db, a) => serveSyncPush(syncStorage(db), a[0])],
  ['seq', (db) => db.seq],
  ['nodeId', (db) => db.nodeId],
]);

/** Runs a call; a missing method or malformed params are INVALID_ARGUMENT. */
export async function runCall(db: KoruDelta, method: unknown, params: unknown): Promise<unknown> {
  const call = typeof method === 'string' ? CALLS.get(method) : undefined;
  if (call === undefined) throw new InvalidArgumentError(`unknown method ${JSON.stringify(method)}`);
  if (params !== undefined && !Array.isArray(params)) throw new InvalidArgumentError('params must be an array');
  const result = await call(db, params ?? []);
  return result === undefined ? null : result;
}
