/**
 * Versions as the JSON text they travel in. Pushes, anti-entropy answers and snapshots
 * are built from this text (the store's own, where it has it) so that no version is
 * parsed and serialized again on its way out.
 */
import type { Version } from '@koru/delta';

/** A version's JSON with its id. */
export interface VersionText {
  readonly id: string;
  readonly json: string;
}

/** The versionId in a version's JSON as storage writes it (`"versionId":"<64 hex>"`). */
export function idOfJson(json: string): string {
  const at = json.indexOf('"versionId":"') + 13;
  return json.slice(at, at + 64);
}

/** The JSON of versions to push. */
export function textsOf(versions: readonly Version[]): VersionText[] {
  return versions.map((v) => ({ id: v.versionId, json: JSON.stringify(v) }));
}
