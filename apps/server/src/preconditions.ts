/**
 * Conditional writes from `If-Match` / `If-None-Match` (RFC 9110 §13.1): `If-Match` is `*`
 * or a list of entity tags, compared strongly (a weak tag never matches); anything else is
 * a malformed header, 400. Each write is a compare-and-set on one version id, so a
 * condition can never pass on a head that changed in between.
 */
import { ErrorCodes, InvalidArgumentError, KoruError, type KoruDelta, type PutOptions, type Version } from '@koru/delta';

/** Most entity tags one `If-Match` may list (each is one compare-and-set attempt). */
export const MAX_IF_MATCH_TAGS = 16;

/** A parsed `If-Match`: any current version, or one of these version ids. */
export type IfMatch = { readonly any: true } | { readonly any: false; readonly tags: readonly string[] };

/** `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`, then a comma or the end. */
const TAG = /\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/y;

/**
 * The `If-Match` header, or undefined when absent. Weak tags are dropped (strong
 * comparison), so a header of weak tags only matches nothing.
 * @throws INVALID_ARGUMENT for a header that is not `*` or a list of quoted tags
 */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (text === '*') return { any: true };
  const tags: string[] = [];
  let count = 0;
  TAG.lastIndex = 0;
  while (TAG.lastIndex < text.length) {
    const at = TAG.lastIndex;
    const m = TAG.exec(text);
    if (m === null) throw new InvalidArgumentError(`If-Match must be * or a list of quoted entity tags ("<versionId>", …), not ${JSON.stringify(header.slice(0, 200))}${at > 0 ? ` (bad from character ${at})` : ''}`);
    if (++count > MAX_IF_MATCH_TAGS) throw new InvalidArgumentError(`If-Match lists more than ${MAX_IF_MATCH_TAGS} entity tags`);
    if (m[1] === undefined) tags.push(m[2]!);
    // A trailing comma leaves nothing after it: that is the end of the list.
    if (m[0].trimEnd().endsWith(',') && TAG.lastIndex >= text.length) break;
  }
  if (count === 0) throw new InvalidArgumentError('If-Match is empty: give * or a quoted entity tag');
  return { any: false, tags };
}

/**
 * Runs `write` under the request's preconditions: unconditionally without them; with
 * `If-None-Match: *`, only if the key has no live value; with `If-Match`, only if the
 * key's current version is one of the tags (`*`: any live version), else VERSION_CONFLICT
 * (412). @throws INVALID_ARGUMENT for a malformed If-Match
 */
export async function conditionally(
  db: KoruDelta,
  ns: string,
  key: string,
  headers: { readonly 'if-match'?: string | undefined; readonly 'if-none-match'?: string | undefined },
  options: PutOptions | undefined,
  write: (options: PutOptions | undefined) => Promise<Version>,
): Promise<Version> {
  const ifMatch = parseIfMatch(headers['if-match']);
  if (ifMatch === undefined) {
    if (headers['if-none-match']?.trim() === '*') return write({ ...options, ifVersion: null });
    return write(options);
  }
  if (ifMatch.any) {
    let head: string;
    try {
      head = (await db.getVersion(ns, key)).versionId;
    } catch (e) {
      if ((e as { code?: unknown }).code === 'KEY_NOT_FOUND') throw new KoruError(ErrorCodes.VERSION_CONFLICT, `${ns}/${key} has no current version, and If-Match: * asks for one`, { details: { namespace: ns, key } });
      throw e;
    }
    return write({ ...options, ifVersion: head });
  }
  if (ifMatch.tags.length === 0) throw new KoruError(ErrorCodes.VERSION_CONFLICT, 'If-Match lists only weak entity tags, which never match (strong comparison)', { details: { namespace: ns, key } });
  // One compare-and-set per tag: the first whose id is the head wins; nothing is written
  // by the ones that do not match.
  let conflict: unknown;
  for (const tag of ifMatch.tags) {
    try {
      return await write({ ...options, ifVersion: tag });
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'VERSION_CONFLICT') throw e;
      conflict = e;
    }
  }
  throw conflict;
}
