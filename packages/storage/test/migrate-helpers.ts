// Helpers of the v1 → v2 conversion tests: open the converted store, compare it with the
// versions the v1 database held, and fingerprint a directory to see that nothing changed.
import { canonicalJson, valueIdOfCanonical } from '@koru/engine';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { LsmTree } from '../src/lsm/lsm-tree.js';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { NodeDirectory } from '../src/node/node-directory.js';
import { V1Reader } from '../src/node/v1/v1-reader.js';
import { VERSION_TREE_WRITER, VersionStore } from '../src/version-store.js';
import type { Version } from '../src/types.js';
import type { V1TestVersion } from './v1-writer.js';

/** Every file under `dir` (relative path → SHA-256 of its bytes), directories as `<path>/`. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        out[`${p}/`] = 'dir';
        walk(p);
      } else out[p] = createHash('sha256').update(fs.readFileSync(join(dir, p))).digest('hex');
    }
  };
  walk('');
  return out;
}

/** Opens the v2 store in `dir`, runs `fn`, closes it. */
export async function withStore<T>(dir: string, fn: (store: VersionStore, tree: LsmTree) => T): Promise<T> {
  const disk = new NodeDirectory(dir);
  const tree = LsmTree.open({ dir: disk, flushRunner: new InlineMergeRunner(disk), writer: VERSION_TREE_WRITER, autoMerge: false });
  try {
    return fn(new VersionStore(tree), tree);
  } finally {
    await tree.close();
  }
}

/** The fields a converted version must keep. */
function fieldsOf(v: Version): Omit<V1TestVersion, 'seq'> {
  return {
    namespace: v.namespace,
    key: v.key,
    versionId: v.versionId,
    previousVersion: v.previousVersion,
    valueId: v.valueId,
    hlc: v.hlc,
    node: v.node,
    deleted: v.deleted,
    valueText: v.deleted ? null : canonicalJson(v.value),
  };
}

const withoutSeq = ({ seq: _seq, ...rest }: V1TestVersion): Omit<V1TestVersion, 'seq'> => rest;

/** Clock order, as a key's history lists it: stamp, then node, then version id. */
function clockOrder(a: V1TestVersion, b: V1TestVersion): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  if (a.node !== b.node) return Buffer.compare(Buffer.from(a.node), Buffer.from(b.node));
  return a.versionId < b.versionId ? -1 : 1;
}

/**
 * Checks that the v2 store in `dir` holds exactly `expected` (in seq order): every
 * change by seq, every key's history, every value re-hashing to its id, the namespaces.
 */
export async function expectStoreHolds(dir: string, expected: readonly V1TestVersion[]): Promise<void> {
  await withStore(dir, (store) => {
    expect(store.seq).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const c = store.changeAt(i + 1)!;
      expect(fieldsOf(c.version), `change ${i + 1}`).toEqual(withoutSeq(expected[i]!));
      if (!c.version.deleted) expect(valueIdOfCanonical(canonicalJson(c.version.value))).toBe(c.version.valueId);
    }
    expect(store.changeAt(expected.length + 1)).toBeUndefined();
    const byKey = new Map<string, V1TestVersion[]>();
    for (const v of expected) {
      const k = JSON.stringify([v.namespace, v.key]);
      const list = byKey.get(k) ?? [];
      list.push(v);
      byKey.set(k, list);
    }
    for (const [k, list] of byKey) {
      const [ns, key] = JSON.parse(k) as [string, string];
      const want = [...list].sort(clockOrder).map(withoutSeq);
      expect(store.history(ns, key).map(fieldsOf), `history of ${ns}/${key}`).toEqual(want);
    }
    expect(store.namespaces()).toEqual([...new Set(expected.map((v) => v.namespace))].sort());
  });
}

const jsonCache = new WeakMap<readonly V1TestVersion[], string[]>();

/** Each expected version (seq left out) as JSON, computed once per list: the kill test checks one list fifty times. */
export function expectedJson(expected: readonly V1TestVersion[]): string[] {
  let json = jsonCache.get(expected);
  if (json === undefined) jsonCache.set(expected, (json = expected.map((v) => JSON.stringify(withoutSeq(v)))));
  return json;
}

/** Checks that the v1 database in `dir` reads back as exactly `expected`, values included. */
export function expectV1Holds(dir: string, expected: readonly V1TestVersion[]): void {
  const reader = V1Reader.open(dir);
  try {
    expect(reader.count).toBe(expected.length);
    // One expect per mismatch only: 20k toEqual calls would dominate the kill test.
    const wantJson = expectedJson(expected);
    let i = 0;
    for (const v of reader.versions()) {
      const hlc = `${String(v.wall).padStart(15, '0')}-${String(v.logical).padStart(6, '0')}`;
      const { namespace, key, versionId, previousVersion, valueId, node, deleted } = v;
      const got = { namespace, key, versionId, previousVersion, valueId, hlc, node, deleted, valueText: reader.valueText(v) };
      if (JSON.stringify(got) !== wantJson[i]) expect(got, `v1 change ${v.seq}`).toEqual(withoutSeq(expected[i]!));
      i++;
    }
  } finally {
    reader.close();
  }
}
