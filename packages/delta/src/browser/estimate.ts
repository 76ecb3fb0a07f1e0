/** The origin's storage estimate, from `navigator.storage` (undefined where there is none). */
import type { StorageEstimateInfo } from '../koru-delta.js';

/** Bytes used and allowed for the origin, and whether its data is persistent. */
export async function storageEstimate(): Promise<StorageEstimateInfo | undefined> {
  const storage = (globalThis as { navigator?: { storage?: Partial<StorageManager> } }).navigator?.storage;
  if (typeof storage?.estimate !== 'function') return undefined;
  const [e, persisted] = await Promise.all([storage.estimate(), typeof storage.persisted === 'function' ? storage.persisted() : Promise.resolve(false)]);
  return { usage: e.usage ?? 0, quota: e.quota ?? 0, persisted };
}
