// Speed of segment files (a script, not a test: no thresholds). Run from packages/storage:
//   node ../../node_modules/.pnpm/tsx@*/node_modules/tsx/dist/cli.mjs test/lsm-segment.speed.ts [entries]
// Writes N entries (~60-byte keys, ~100-byte values) to a real file, then reports open
// time, the first get after open, cold gets (every block — filter and index partitions
// too — read from the file and checked), gets through a 16 MiB LRU cache (partitions
// stay cached, data blocks mostly not), warm gets, absent gets, a full cursor scan, and
// bytes per entry. Times are CPU time of the process (the wait
// for a busy machine left out; the kernel's work for reads and the fsync included).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LruBlockCache } from '../src/lsm/block-cache.js';
import { getU32 } from '../src/lsm/bytes.js';
import { FOOTER_BYTES } from '../src/lsm/segment-format.js';
import { TopIndex } from '../src/lsm/segment-index.js';
import { SegmentReader } from '../src/lsm/segment-reader.js';
import { SegmentWriter } from '../src/lsm/segment-writer.js';
import { KIND_PUT, segmentFileName, type BlockCache } from '../src/lsm/types.js';
import { NodeFile } from './lsm-node-file.js';

const N = Number(process.argv[2] ?? 1_000_000);
/** CPU milliseconds of this process (user + system): fairer than wall time on a busy machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Holds nothing: every block read comes from the file (cold). */
const noCache: BlockCache = { get: () => undefined, set: () => {}, evictFile: () => {}, bytes: 0, budget: 0 };
/** Holds everything (warm). */
const map = new Map<number, Uint8Array>();
const allCache: BlockCache = { get: (_f, o) => map.get(o), set: (_f, o, b) => void map.set(o, b), evictFile: () => map.clear(), bytes: 0, budget: Infinity };

// Version-store-like keys: namespace and key names ended by 0x00 0x01, then a version.
const keyOf = (i: number) => `namespace-${i % 7}\x00\x01document-key-${String(Math.floor(i / 4)).padStart(12, '0')}\x00\x01v${String(i % 4).padStart(20, '0')}`;
const keys: string[] = [];
for (let i = 0; i < N; i++) keys.push(keyOf(i));
keys.sort();
let seed = 42;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const value = new Uint8Array(100);

const dir = mkdtempSync(join(tmpdir(), 'koru-seg-speed-'));
try {
  const path = join(dir, segmentFileName(1));
  let t = cpuMs();
  const file = new NodeFile(path, true);
  const writer = new SegmentWriter(file, 1, { filterKeyParts: 2 });
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < 100; j += 4) value[j] = (i * 31 + j) & 0xff;
    writer.add(keys[i]!, KIND_PUT, value);
  }
  const info = writer.finish();
  file.close();
  const writeMs = cpuMs() - t;
  console.log(`entries ${N}, key ${keys[0]!.length} B, value 100 B; file ${(info.bytes / 1e6).toFixed(1)} MB = ${(info.bytes / N).toFixed(1)} B/entry`);
  console.log(`write+sync: ${writeMs.toFixed(0)} ms (${((N / writeMs) * 1000).toFixed(0)} entries/s)`);

  {
    const f = new NodeFile(path, false);
    const footer = f.read(info.bytes - FOOTER_BYTES, FOOTER_BYTES);
    const at = getU32(footer, 8);
    const top = TopIndex.parse(f.read(at, getU32(footer, 16)), at, (what) => new Error(what) as never);
    f.close();
    const dataEnd = top.dataOffsets[top.count]!;
    let filters = 0;
    for (const n of top.filterSizes) filters += n + 4;
    console.log(`data ${(dataEnd / 1e6).toFixed(1)} MB; ${top.count} partitions: index ${((at - dataEnd - filters) / 1e6).toFixed(2)} MB, filters ${(filters / 1e6).toFixed(2)} MB; top index ${top.bytes} B in memory`);
  }

  t = cpuMs();
  const cold = SegmentReader.open(new NodeFile(path, false), 1, noCache);
  console.log(`open: ${(cpuMs() - t).toFixed(1)} ms; resident ${(cold.residentBytes / 1e6).toFixed(3)} MB`);
  {
    const lru = new LruBlockCache(16 * 1024 * 1024);
    const t0 = cpuMs();
    const r = SegmentReader.open(new NodeFile(path, false), 1, lru);
    if (r.get(keys[N >> 1]!) === undefined) throw new Error('first get found nothing');
    console.log(`open + first get (fresh 16 MiB cache): ${(cpuMs() - t0).toFixed(2)} ms`);
    r.close();
  }

  const GETS = 100_000;
  const picks = Array.from({ length: GETS }, () => keys[Math.floor(random() * N)]!);
  const run = (label: string, reader: SegmentReader, list: readonly string[], expectFound: boolean) => {
    let found = 0;
    const t0 = cpuMs();
    for (const k of list) if (reader.get(k) !== undefined) found++;
    const ms = cpuMs() - t0;
    if ((found === list.length) !== expectFound && !(found < list.length * 0.02 && !expectFound)) throw new Error(`${label}: found ${found} of ${list.length}`);
    console.log(`${label}: ${((list.length / ms) * 1000).toFixed(0)} gets/s (${((ms * 1000) / list.length).toFixed(2)} µs each)`);
  };
  run('cold gets (file read + CRC + decode per get)', cold, picks, true);
  const lru = new LruBlockCache(16 * 1024 * 1024);
  const cached = SegmentReader.open(new NodeFile(path, false), 1, lru);
  run('16 MiB LRU gets, first pass', cached, picks, true);
  run('16 MiB LRU gets, second pass', cached, picks, true);
  console.log(`  cache ${(lru.bytes / 1e6).toFixed(1)} MB, hits ${lru.hits}, misses ${lru.misses}`);
  run('16 MiB LRU absent gets (filter partitions cached, filter says no)', cached, picks.map((k) => k.replace('document-key-', 'document-kez-')), false);
  cached.close();
  const warm = SegmentReader.open(new NodeFile(path, false), 1, allCache);
  run('warm gets, first pass (fills the cache)', warm, picks, true);
  run('warm gets (all blocks cached)', warm, picks, true);
  const absent = picks.map((k) => k.replace('document-key-', 'document-kez-'));
  run('absent gets (filter says no; its partition read each time)', cold, absent, false);

  for (const [label, reader] of [
    ['cold scan', cold],
    ['warm scan', warm],
  ] as const) {
    const t0 = cpuMs();
    const c = reader.cursor();
    let n = 0;
    let bytes = 0;
    for (c.seekToFirst(); c.valid(); c.next()) {
      n++;
      bytes += c.key().length + c.value().length;
    }
    const ms = cpuMs() - t0;
    if (n !== N || bytes === 0) throw new Error(`scan saw ${n}`);
    console.log(`${label} (key() + value() per entry): ${((n / ms) * 1000 / 1e6).toFixed(2)} M entries/s (${ms.toFixed(0)} ms)`);
  }
  const t1 = cpuMs();
  const c = cold.cursor();
  for (const k of picks.slice(0, 20_000)) c.seek(k);
  console.log(`cold seeks: ${((20_000 / (cpuMs() - t1)) * 1000).toFixed(0)} /s`);
  cold.close();
  warm.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
