/**
 * Checks a key's history in the browser, trusting nothing the server says: each version's
 * `valueId` is recomputed from its value (SHA-256 of its RFC 8785 form), its `versionId`
 * from its fields, and each `previousVersion` must be the id of the version before it.
 * The same rules the engine's `verify` applies, run on the bytes that reached the page.
 */
import type { Version } from '@koru/client';
import { canonicalize, valueIdOfCanonical, versionIdOf } from '@koru/engine';

/** What a version of a history needs for the check: the fields its ids cover, and its ids. */
export type ChainVersion = Pick<Version, 'namespace' | 'key' | 'value' | 'valueId' | 'versionId' | 'previousVersion' | 'hlc' | 'node' | 'deleted'>;

/** One version's verdict: `ok`, or each rule it breaks. */
export interface LinkCheck {
  readonly versionId: string;
  readonly problems: readonly string[];
}

/**
 * The verdict of every version of `history` (oldest first). When the history is the
 * newest part only (`partial`), the first version's link is not checked: its parent was
 * not fetched.
 */
export function checkChain(history: readonly ChainVersion[], partial: boolean): LinkCheck[] {
  return history.map((v, i) => {
    const problems: string[] = [];
    const valueId = v.deleted ? null : valueIdOfCanonical(canonicalize(v.value).text);
    if (valueId !== v.valueId) problems.push(`value does not hash to its valueId (computed ${String(valueId).slice(0, 12)})`);
    const id = versionIdOf(v);
    if (id !== v.versionId) problems.push(`fields do not hash to its versionId (computed ${id.slice(0, 12)})`);
    const expected = i === 0 ? (partial ? v.previousVersion : null) : history[i - 1]!.versionId;
    if (v.previousVersion !== expected) problems.push(i === 0 ? 'the first version names a previous version' : 'previousVersion is not the version before it');
    return { versionId: v.versionId, problems };
  });
}
