// A test-only writer of v1 database directories, through the v1 format's own encoders
// (src/node/v1: log-format `encodeBatch`, snapshot-format `writeSnapshot`, the SYNCED
// checkpoint), for data sets too large to check in. The v1 store that wrote them is gone;
// this writes what it wrote: a snapshot of the first versions (generation 1) and a log of
// the rest in batches, each distinct value stored once, NODE and SYNCED.
import { canonicalJson, formatHlc, valueIdOfCanonical, versionIdOf, type JsonValue } from '@koru/engine';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { nodeFileOps } from '../src/node/fs-ops.js';
import { writeNodeId } from '../src/node/node-id.js';
import { CheckpointWriter } from '../src/node/v1/checkpoint.js';
import { encodeBatch, LOG_HEADER_BYTES, logHeader } from '../src/node/v1/log-format.js';
import { writeSnapshot } from '../src/node/v1/snapshot-format.js';
import { FLAG_DELETED, type CommitEntry, type VersionColumns } from '../src/node/v1/v1-types.js';

/** One version as the tests know it (what the converted store must give back). */
export interface V1TestVersion {
  readonly seq: number;
  readonly namespace: string;
  readonly key: string;
  readonly versionId: string;
  readonly previousVersion: string | null;
  readonly valueId: string | null;
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
  /** Canonical JSON, null for a tombstone. */
  readonly valueText: string | null;
}

/** A version to write: the value (undefined: a tombstone), its clock and node. */
export interface V1Input {
  readonly namespace: string;
  readonly key: string;
  readonly value: JsonValue | undefined;
  readonly wall: number;
  readonly logical: number;
  readonly node: string;
}

const hexBytes = (hex: string, dst: Uint8Array, at: number) => dst.set(Buffer.from(hex, 'hex'), at);

/** Gives each input its ids (previousVersion: the key's newest version so far in clock order). */
export function versionsOf(inputs: readonly V1Input[]): V1TestVersion[] {
  const heads = new Map<string, { wall: number; logical: number; node: string; id: string }>();
  return inputs.map((v, i) => {
    const deleted = v.value === undefined;
    const valueText = deleted ? null : canonicalJson(v.value);
    const valueId = valueText === null ? null : valueIdOfCanonical(valueText);
    const hlc = formatHlc({ wall: v.wall, logical: v.logical });
    const k = `${v.namespace}\u0000${v.key}`;
    const head = heads.get(k);
    const previousVersion = head?.id ?? null;
    const versionId = versionIdOf({ namespace: v.namespace, key: v.key, valueId, previousVersion, hlc, node: v.node, deleted });
    const later = head === undefined || v.wall > head.wall || (v.wall === head.wall && (v.logical > head.logical || (v.logical === head.logical && v.node > head.node)));
    if (later) heads.set(k, { wall: v.wall, logical: v.logical, node: v.node, id: versionId });
    return { seq: i + 1, namespace: v.namespace, key: v.key, versionId, previousVersion, valueId, hlc, node: v.node, deleted, valueText };
  });
}

/**
 * Writes `versions` as a v1 database in `dir` (created): the first `inSnapshot` in
 * snapshot-000001.kds, the rest in the log, `batch` versions per group commit.
 */
export function writeV1(dir: string, nodeId: string, versions: readonly V1TestVersion[], inSnapshot: number, batch = 7): void {
  fs.mkdirSync(dir, { recursive: true });
  writeNodeId(dir, nodeId);
  const gen = inSnapshot > 0 ? 1 : 0;
  // Where each value id is stored once written: { loc, len } in the snapshot or the log.
  const stored = new Map<string, { loc: number; len: number }>();
  if (inSnapshot > 0) {
    const n = inSnapshot;
    const cols: VersionColumns = {
      wall: new Float64Array(n),
      logical: new Uint32Array(n),
      prev: new Int32Array(n),
      loc: new Float64Array(n),
      len: new Uint32Array(n),
      node: new Uint16Array(n),
      flags: new Uint8Array(n),
      ids: new Uint8Array(n * 32),
      vids: new Uint8Array(n * 32),
    };
    const nodes: string[] = [];
    const rowOfId = new Map<string, number>();
    const keys = new Map<string, { namespace: string; key: string; rows: number[] }>();
    // The source's value locations: the index of the first version holding the value.
    const firstOf = new Map<string, number>();
    for (let r = 0; r < n; r++) {
      const v = versions[r]!;
      const [wall, logical] = v.hlc.split('-').map(Number) as [number, number];
      cols.wall[r] = wall;
      cols.logical[r] = logical;
      cols.prev[r] = v.previousVersion === null ? -1 : rowOfId.get(v.previousVersion)!;
      let ni = nodes.indexOf(v.node);
      if (ni < 0) ni = nodes.push(v.node) - 1;
      cols.node[r] = ni;
      hexBytes(v.versionId, cols.ids, r * 32);
      rowOfId.set(v.versionId, r);
      if (v.deleted) {
        cols.flags[r] = FLAG_DELETED;
        cols.loc[r] = -1;
      } else {
        hexBytes(v.valueId!, cols.vids, r * 32);
        if (!firstOf.has(v.valueId!)) firstOf.set(v.valueId!, r);
        cols.loc[r] = firstOf.get(v.valueId!)!;
        cols.len[r] = Buffer.byteLength(v.valueText!);
      }
      const k = `${v.namespace}\u0000${v.key}`;
      let ks = keys.get(k);
      if (ks === undefined) keys.set(k, (ks = { namespace: v.namespace, key: v.key, rows: [] }));
      ks.rows.push(r);
    }
    // A key's rows in clock order, as the v1 store kept them.
    for (const ks of keys.values()) ks.rows.sort((a, b) => cols.wall[a]! - cols.wall[b]! || cols.logical[a]! - cols.logical[b]! || (nodes[cols.node[a]!]! < nodes[cols.node[b]!]! ? -1 : 1));
    const path = join(dir, 'snapshot-000001.kds');
    const fd = fs.openSync(path, 'w+');
    try {
      const reloc = writeSnapshot(
        nodeFileOps,
        fd,
        1,
        { count: n, cols, nodes, keys: () => keys.values(), keyCount: keys.size, seq: n },
        (loc) => versions[loc]!.valueText!,
      );
      for (let r = 0; r < n; r++) if (!versions[r]!.deleted) stored.set(versions[r]!.valueId!, { loc: reloc.loc[r]!, len: reloc.len[r]! });
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  const logPath = join(dir, `log-${String(gen).padStart(6, '0')}.kdl`);
  const chunks: Buffer[] = [logHeader(gen)];
  let size = LOG_HEADER_BYTES;
  const scratch = { buf: Buffer.allocUnsafe(64 * 1024) };
  for (let i = inSnapshot; i < versions.length; i += batch) {
    const entries: CommitEntry[] = [];
    const inBatch = new Map<string, CommitEntry>();
    for (const v of versions.slice(i, i + batch)) {
      const known = v.valueId === null ? undefined : stored.get(v.valueId);
      const sameAs = v.valueId === null ? undefined : inBatch.get(v.valueId);
      const first = !v.deleted && known === undefined && sameAs === undefined;
      const e: CommitEntry = {
        seq: v.seq,
        namespace: v.namespace,
        key: v.key,
        versionId: v.versionId,
        previousVersion: v.previousVersion,
        valueId: v.valueId,
        hlc: v.hlc,
        node: v.node,
        deleted: v.deleted,
        value: null,
        valueText: first ? v.valueText : null,
        sameAs: sameAs ?? null,
        loc: v.deleted ? -1 : (known?.loc ?? -1),
        len: v.deleted ? 0 : (known?.len ?? 0),
      };
      if (first) inBatch.set(v.valueId!, e);
      entries.push(e);
    }
    const used = encodeBatch(entries, size, scratch);
    chunks.push(Buffer.from(scratch.buf.subarray(0, used)));
    size += used;
    for (const e of inBatch.values()) stored.set(e.valueId!, { loc: e.loc, len: e.len });
  }
  fs.writeFileSync(logPath, Buffer.concat(chunks));
  const cp = new CheckpointWriter(nodeFileOps, dir);
  cp.write(gen, size, true);
  cp.close();
}

/** Reads a checked-in fixture's expected versions. */
export function expectedOf(file: string): { nodeId: string; versions: V1TestVersion[] } {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as { nodeId: string; versions: V1TestVersion[] };
}

/**
 * `count` versions of random data from `rand` (a PRNG in [0, 1)): three namespaces,
 * `keys` keys, small values (many identical), some over 1 KiB, about 5% tombstones, and
 * about 10% replicated from a second node, a few of them concurrent with (earlier than)
 * the key's current version.
 */
export function randomInputs(count: number, keys: number, rand: () => number, nodes: readonly [string, string]): V1Input[] {
  const out: V1Input[] = [];
  let wall = 1_700_000_000_000;
  let logical = 0;
  const live = new Set<string>();
  for (let i = 0; i < count; i++) {
    // Every stamp differs (as the v1 store's clock made them), so no two versions collide.
    if (rand() < 0.7) {
      wall++;
      logical = 0;
    } else logical++;
    const ns = ['users', 'docs', 'cfg'][Math.floor(rand() * 3)]!;
    const key = `k${Math.floor(rand() * keys)}`;
    const k = `${ns}/${key}`;
    const peer = rand() < 0.1;
    const r = rand();
    let value: JsonValue | undefined;
    if (live.has(k) && r < 0.05) value = undefined;
    else if (r < 0.3) value = { shared: Math.floor(rand() * 20) };
    else if (r < 0.33) value = { big: 'b'.repeat(1100 + Math.floor(rand() * 2000)), i };
    else value = { i, name: `ünï ${key}`, tags: [ns, i % 7] };
    if (value === undefined) live.delete(k);
    else live.add(k);
    // A replicated version is sometimes stamped earlier than versions already stored.
    const early = peer && rand() < 0.3;
    out.push({ namespace: ns, key, value, wall: early ? wall - 1 - Math.floor(rand() * 50) : wall, logical: early ? 500_000 + i : logical, node: peer ? nodes[1] : nodes[0] });
  }
  return out;
}
