/**
 * `verify()`: re-hashes every version chain and every stored value. Each versionId
 * must match its fields (its previousVersion being the version it links to), that
 * predecessor must be an earlier version of the same key, each value must match its
 * valueId. O(total versions + value bytes); each distinct value is read once.
 */
import { canonicalize, formatHlc, valueIdOfCanonical, versionIdOf } from '@koru/engine';
import type { KeyIndex } from './key-index.js';
import type { VerifyProblem, VerifyReport } from './types.js';
import { FLAG_DELETED } from './version-table.js';

// No limits: a value stored under larger limits (an earlier session's) is still valid.
const UNLIMITED = { maxBytes: Infinity, maxDepth: Infinity } as const;

/** Checks everything `index` refers to; `readValueText` reads a stored value's JSON. */
export function verifyIndex(index: KeyIndex, readValueText: (loc: number, len: number) => string): VerifyReport {
  const problems: VerifyProblem[] = [];
  const t = index.table;
  const cols = t.cols;
  const checkedLocs = new Map<number, string | null>();
  const unreadable = new Map<number, string>();
  let versions = 0;
  let keys = 0;
  for (const ks of index.keys()) {
    keys++;
    const own = new Set(ks.rows);
    for (const r of ks.rows) {
      const p = cols.prev[r]!;
      const prev = p < 0 ? null : t.versionId(p);
      versions++;
      const versionId = t.versionId(r);
      const deleted = (cols.flags[r]! & FLAG_DELETED) !== 0;
      const valueId = t.valueId(r);
      const hlc = formatHlc({ wall: cols.wall[r]!, logical: cols.logical[r]! });
      const node = index.nodes[cols.node[r]!]!;
      const report = (problem: string) => problems.push({ namespace: ks.namespace, key: ks.key, versionId, problem });
      const expected = versionIdOf({ namespace: ks.namespace, key: ks.key, valueId, previousVersion: prev, hlc, node, deleted });
      if (expected !== versionId) report(`version id does not match its content (expected ${expected})`);
      if (p >= 0 && (!own.has(p) || cols.wall[p]! > cols.wall[r]! || (cols.wall[p] === cols.wall[r] && cols.logical[p]! >= cols.logical[r]!))) {
        report(`its previous version ${String(prev)} is not an earlier version of this key`);
      }
      if (!deleted) {
        const loc = cols.loc[r]!;
        let actual = checkedLocs.get(loc);
        if (actual === undefined) {
          try {
            actual = valueIdOfCanonical(canonicalize(JSON.parse(readValueText(loc, cols.len[r]!)), UNLIMITED).text);
          } catch (e) {
            actual = null;
            unreadable.set(loc, `value unreadable: ${e instanceof Error ? e.message : String(e)}`);
          }
          checkedLocs.set(loc, actual);
        }
        // Every version sharing a damaged value is reported, not just the first.
        if (actual === null) report(unreadable.get(loc)!);
        else if (actual !== valueId) report(`value does not hash to its value id (got ${actual})`);
      }
    }
  }
  return { ok: problems.length === 0, keys, versions, values: checkedLocs.size, problems };
}
