/**
 * The checks of an import (`PostgresStore.importVersions`), as embedded makes them: each
 * version's fields, value and id agree, its clock is not far ahead, and a key's versions
 * in the batch chain one on the other. Versions stored already (`known`) or twice in the
 * batch are skipped.
 */
import {
  canonicalize,
  ClockSkewError,
  InvalidArgumentError,
  parseHlc,
  valueIdOfCanonical,
  versionIdOf,
  type CanonicalLimits,
  type HlcStamp,
} from '@koru/engine';
import { DEFAULT_MAX_CLOCK_AHEAD_MS, validateKey, validateNamespace, type Version } from '@koru/storage';

/**
 * The versions of `versions` to store, each with its value's canonical text (null for a
 * tombstone), in order. `nowMs` is this server's clock.
 * @throws INVALID_ARGUMENT naming the version that does not fit; CLOCK_SKEW for one
 *   stamped more than DEFAULT_MAX_CLOCK_AHEAD_MS ahead
 */
export function checkImports(
  versions: readonly Version[],
  known: ReadonlySet<string>,
  limits: CanonicalLimits,
  nowMs: number,
): { readonly fresh: Version[]; readonly bodies: Array<string | null> } {
  const fresh: Version[] = [];
  const bodies: Array<string | null> = [];
  // The newest clock an imported version may carry, as embedded: a stamp further ahead
  // would become the floor of every later write's clock.
  const limit = nowMs + DEFAULT_MAX_CLOCK_AHEAD_MS;
  // Each key's last version in this batch: the next one of the key must chain on it.
  const lastOfKey = new Map<string, string>();
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i] as Version;
    const where = `version ${i}`;
    if (v === null || typeof v !== 'object') throw new InvalidArgumentError(`${where} is not a version`);
    validateNamespace(v.namespace);
    validateKey(v.key);
    if (typeof v.deleted !== 'boolean') throw new InvalidArgumentError(`${where} (${v.namespace}/${v.key}): deleted must be true or false`);
    if (typeof v.hlc !== 'string' || typeof v.node !== 'string' || typeof v.timestamp !== 'string') throw new InvalidArgumentError(`${where}: hlc, node and timestamp must be strings`);
    let stamp: HlcStamp;
    try {
      stamp = parseHlc(v.hlc);
    } catch {
      throw new InvalidArgumentError(`${where} (${v.namespace}/${v.key}): hlc ${JSON.stringify(v.hlc)} is not a clock stamp`);
    }
    if (stamp.wall > limit) {
      const ahead = stamp.wall - limit + DEFAULT_MAX_CLOCK_AHEAD_MS;
      throw new ClockSkewError(`version ${v.versionId} from node ${v.node} is stamped ${new Date(stamp.wall).toISOString()}, ${ahead} ms ahead of this server's clock (at most ${DEFAULT_MAX_CLOCK_AHEAD_MS} ms allowed)`, {
        details: { node: v.node, aheadMs: ahead, maxClockAheadMs: DEFAULT_MAX_CLOCK_AHEAD_MS },
      });
    }
    const k = `${v.namespace}\u0000${v.key}`;
    const before = lastOfKey.get(k);
    if (before !== undefined && before !== v.versionId && (v.previousVersion ?? null) !== before) {
      throw new InvalidArgumentError(`${where} (${v.namespace}/${v.key}): its previousVersion is not the key's version before it in the batch (${before})`);
    }
    // Stored already, or twice in the batch: skipped (the same id is the same version).
    if (known.has(v.versionId) || before === v.versionId) {
      lastOfKey.set(k, v.versionId);
      continue;
    }
    let body: string | null = null;
    let valueId: string | null = null;
    if (!v.deleted) {
      const canon = canonicalize(v.value, limits);
      body = canon.text;
      valueId = valueIdOfCanonical(canon.text);
    }
    if (valueId !== v.valueId) throw new InvalidArgumentError(`${where} (${v.namespace}/${v.key}): its value does not hash to its valueId`);
    if (v.timestamp !== new Date(stamp.wall).toISOString()) throw new InvalidArgumentError(`${where} (${v.namespace}/${v.key}): timestamp ${JSON.stringify(v.timestamp)} is not the time of its hlc ${v.hlc}`);
    const id = versionIdOf({ namespace: v.namespace, key: v.key, valueId, previousVersion: v.previousVersion ?? null, hlc: v.hlc, node: v.node, deleted: v.deleted });
    if (id !== v.versionId) throw new InvalidArgumentError(`${where} (${v.namespace}/${v.key}): its fields do not hash to its versionId`);
    lastOfKey.set(k, v.versionId);
    fresh.push(v);
    bodies.push(body);
  }
  return { fresh, bodies };
}
