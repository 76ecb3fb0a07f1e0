// Small helpers shared by the engine's and the version store's tests.
import { KoruError } from '@koru/engine';
import { LruBlockCache } from '../src/lsm/block-cache.js';
import type { StorageDirectory } from '../src/lsm/io.js';
import { SegmentReader } from '../src/lsm/segment-reader.js';
import { segmentFileName, type Entry } from '../src/lsm/types.js';

/** Every entry of segment `n` of `dir`, in order (values copied). */
export function readSegment(dir: StorageDirectory, n: number): Entry[] {
  const r = SegmentReader.open(dir.open(segmentFileName(n), 'read'), n, new LruBlockCache(1 << 20));
  const out: Entry[] = [];
  const c = r.cursor();
  for (c.seekToFirst(); c.valid(); c.next()) out.push({ key: c.key(), kind: c.kind(), value: c.value().slice() });
  r.close();
  return out;
}

/** The code a call throws with (undefined when it returns; anything but a KoruError is rethrown). */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof KoruError) return e.code;
    throw e;
  }
  return undefined;
}
