/**
 * Which merge the engine runs next: LevelDB's leveled policy, as pure functions of the
 * live segments so it can be tested without files.
 *
 * Level 0 holds flushed memtables, newest first, whose key ranges overlap. Levels 1 and
 * deeper each hold one sorted run split into files with disjoint ranges, each level
 * `levelMultiplier` times larger than the one above. A merge takes every level-0 file
 * once there are `l0Trigger` of them (with the level-1 files they overlap), or one file
 * of the level most over its size (with the files below it overlaps). So a key's
 * versions live in at most one file per level plus the few level-0 files, and each byte
 * is rewritten about `levelMultiplier` times per level it descends.
 */
import type { SegmentMeta } from './manifest.js';
import { filterKeyOf } from './segment-format.js';

/**
 * Above every binary string that starts with a prefix (binary strings hold chars ≤ 0xFF,
 * so `prefix + '\u0100'` sorts after all of them).
 */
const ABOVE_BYTES = '\u0100';

/** The range [lo, hi] widened to the whole filter-key groups of its ends; `hi` becomes an exclusive bound. */
function groupRange(lo: string, hi: string, parts: number): { lo: string; hiBound: string } {
  if (parts === 0) return { lo, hiBound: hi + '\u0000' };
  return { lo: filterKeyOf(lo, parts) ?? lo, hiBound: (filterKeyOf(hi, parts) ?? hi) + ABOVE_BYTES };
}

/** Tuning of the policy. */
export interface PickerOptions {
  /** Level-0 files that start a merge into level 1. */
  readonly l0Trigger: number;
  /** Level-0 files at which writes wait for a merge (every lookup reads each of them). */
  readonly l0Stop: number;
  /** Size of level 1 before it merges down. */
  readonly levelBaseBytes: number;
  /** Each level deeper may be this many times larger. */
  readonly levelMultiplier: number;
  /** Deepest level. */
  readonly maxLevel: number;
  /**
   * The segments' filter-key rule (see segment-format.ts): the entries of one filter key
   * (one key's history) must stay in one file of a level, so merge ranges are widened to
   * whole groups. 0: every key is its own group.
   */
  readonly filterKeyParts: number;
}

/** Defaults: four flushes (writes wait at twelve), 64 MiB at level 1, ×10 per level, six levels. */
export const DEFAULT_PICKER_OPTIONS: PickerOptions = {
  l0Trigger: 4,
  l0Stop: 12,
  levelBaseBytes: 64 * 1024 * 1024,
  levelMultiplier: 10,
  maxLevel: 6,
  filterKeyParts: 0,
};

/** A merge to run. */
export interface PickedMerge {
  /** Input segments, newest first: level-0 files newest first, then the upper level's, then the lower level's. */
  readonly inputs: readonly SegmentMeta[];
  readonly outputLevel: number;
  /** True when no deeper level overlaps the inputs: deletion markers can go. */
  readonly dropDeletes: boolean;
  /** Why it was picked, for logs and stats. */
  readonly reason: string;
}

/** The segments of each level: level 0 newest first, deeper levels by first key. */
export function levelsOf(segments: readonly SegmentMeta[], maxLevel: number): SegmentMeta[][] {
  const levels: SegmentMeta[][] = Array.from({ length: maxLevel + 1 }, () => []);
  for (const s of segments) levels[Math.min(s.level, maxLevel)]!.push(s);
  levels[0]!.sort((a, b) => b.fileNumber - a.fileNumber);
  for (let l = 1; l <= maxLevel; l++) levels[l]!.sort((a, b) => (a.firstKey < b.firstKey ? -1 : a.firstKey > b.firstKey ? 1 : 0));
  return levels;
}

/** The files of `level` whose ranges meet [lo, hiBound). */
export function overlapping(level: readonly SegmentMeta[], lo: string, hiBound: string): SegmentMeta[] {
  return level.filter((s) => s.count > 0 && s.firstKey < hiBound && s.lastKey >= lo);
}

function rangeOf(files: readonly SegmentMeta[]): { lo: string; hi: string } {
  let lo: string | undefined;
  let hi: string | undefined;
  for (const f of files) {
    if (f.count === 0) continue;
    if (lo === undefined || f.firstKey < lo) lo = f.firstKey;
    if (hi === undefined || f.lastKey > hi) hi = f.lastKey;
  }
  return { lo: lo ?? '', hi: hi ?? '' };
}

function bytesOf(files: readonly SegmentMeta[]): number {
  let n = 0;
  for (const f of files) n += f.bytes;
  return n;
}

/** True when no level deeper than `level` holds a key in [lo, hiBound). */
function bottomFor(levels: readonly SegmentMeta[][], level: number, lo: string, hiBound: string): boolean {
  for (let l = level + 1; l < levels.length; l++) if (overlapping(levels[l]!, lo, hiBound).length > 0) return false;
  return true;
}

/**
 * The most urgent merge, or undefined when every level is within its size. `pointers`
 * holds, per level, the last key merged down from it, so successive merges of a level
 * go round its key space (as LevelDB's compact pointers do) and update it.
 */
export function pickMerge(segments: readonly SegmentMeta[], options: PickerOptions, pointers: Map<number, string>): PickedMerge | undefined {
  const levels = levelsOf(segments, options.maxLevel);
  let bestLevel = -1;
  let bestScore = 1;
  if (levels[0]!.length >= options.l0Trigger) {
    bestLevel = 0;
    bestScore = levels[0]!.length / options.l0Trigger;
  }
  for (let l = 1; l < options.maxLevel; l++) {
    const score = bytesOf(levels[l]!) / (options.levelBaseBytes * options.levelMultiplier ** (l - 1));
    if (score > bestScore) {
      bestScore = score;
      bestLevel = l;
    }
  }
  if (bestLevel < 0) return undefined;
  let upper: SegmentMeta[];
  if (bestLevel === 0) upper = levels[0]!;
  else {
    // The first file past the level's pointer, wrapping round.
    const files = levels[bestLevel]!;
    const after = pointers.get(bestLevel);
    upper = [files.find((f) => after === undefined || f.firstKey > after) ?? files[0]!];
  }
  const { lo, hi } = rangeOf(upper);
  const outputLevel = bestLevel + 1;
  // Whole groups: a lower file holding the older part of a key whose newer part is in
  // the inputs must join, or the output would leave that key in two files of a level.
  const range = groupRange(lo, hi, options.filterKeyParts);
  const lower = overlapping(levels[outputLevel]!, range.lo, range.hiBound);
  const all = rangeOf([...upper, ...lower]);
  const allRange = groupRange(all.lo, all.hi, options.filterKeyParts);
  pointers.set(bestLevel, hi);
  return {
    inputs: [...upper, ...lower],
    outputLevel,
    dropDeletes: bottomFor(levels, outputLevel, allRange.lo, allRange.hiBound),
    reason: bestLevel === 0 ? `${upper.length} level-0 files` : `level ${bestLevel} over its size (${bestScore.toFixed(2)}×)`,
  };
}

/** A merge of every segment into one sorted run at the deepest level in use (at least 1). */
export function pickFullMerge(segments: readonly SegmentMeta[]): PickedMerge | undefined {
  if (segments.length === 0) return undefined;
  const levels = levelsOf(segments, Math.max(1, ...segments.map((s) => s.level)));
  const deepest = levels.length - 1;
  const inputs = levels.flat();
  return { inputs, outputLevel: Math.max(1, deepest), dropDeletes: true, reason: 'full merge' };
}
