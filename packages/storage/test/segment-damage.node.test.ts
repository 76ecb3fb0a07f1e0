// Damage in a segment (format version 2) is never served: a flipped bit in the footer,
// top index or properties refuses to open; in a data block, an index or a filter
// partition, the reads that need it fail with CORRUPTION naming the segment and the
// offset, verify() reports it, and every other read answers the right value.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyFiles, flipBit, parseSegment, rejection, segmentsSettled, type Failure } from './disk-helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-segment-damage-');
  cleanups.push(cleanup);
  return dir;
}

function open(dir: string): Promise<CausalStorage> {
  return CausalStorage.open({ adapter: new FileAdapter(dir, { keepLogBytes: 0 }) });
}

/** Opens `dir` expecting CORRUPTION naming segment `seg`; the lock is released. */
async function refuses(dir: string, seg: string): Promise<Failure> {
  const e = await rejection(open(dir));
  expect(e.code, e.message).toBe(ErrorCodes.CORRUPTION);
  expect(String(e.details?.file)).toContain(seg);
  expect(e.message).toContain(seg);
  expect(typeof e.details?.offset).toBe('number');
  expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  return e;
}


describe('bit flips in a segment', () => {
  const KEYS = 30;
  const valueOf = (k: number, round: number) => ({ k, round, pad: 'p'.repeat(120 + k) });
  const big = { big: 'B'.repeat(3000) }; // stored in its own value record

  /** A closed database whose versions are all in one segment; its path and every key's history. */
  async function buildSegment(): Promise<{ dir: string; seg: string; expected: Map<string, unknown[]> }> {
    const dir = newDir();
    const s = await open(dir);
    const expected = new Map<string, unknown[]>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < KEYS; k++) {
        const value = k === 7 && round === 1 ? big : valueOf(k, round);
        await s.put('seg', `k${k}`, value);
        expected.set(`k${k}`, [...(expected.get(`k${k}`) ?? []), value]);
      }
    }
    await s.compact();
    await s.close();
    const segs = await segmentsSettled(dir, 1);
    expect(segs).toHaveLength(1);
    return { dir, seg: segs[0]!, expected };
  }

  /** Every read answers the right value or CORRUPTION naming `seg`; returns the keys whose reads failed. */
  function unreadable(s: CausalStorage, seg: string, expected: Map<string, unknown[]>): string[] {
    const failed = new Set<string>();
    for (const [key, values] of expected) {
      const reads: Array<[() => unknown, unknown]> = [
        [() => s.get('seg', key), values.at(-1)],
        [() => s.history('seg', key).map((v) => v.value), values],
      ];
      for (const [read, want] of reads) {
        let got: unknown;
        try {
          got = read();
        } catch (e) {
          expect(e, key).toMatchObject({ code: ErrorCodes.CORRUPTION });
          expect(String((e as Failure).details?.file)).toContain(seg);
          failed.add(key);
          continue;
        }
        expect(got, key).toEqual(want);
      }
    }
    return [...failed];
  }

  it('damage to the footer, top index or properties refuses to open with CORRUPTION naming the segment', async () => {
    const { dir, seg } = await buildSegment();
    const parts = parseSegment(readFileSync(join(dir, seg)));
    const targets: Array<[string, number]> = [
      ['footer magic', parts.footer.offset + 2],
      ['footer top index offset', parts.footer.offset + 9],
      ['footer properties size', parts.footer.offset + 29],
      ['footer crc', parts.footer.offset + 33],
      ['top index', parts.topIndex.offset + 1],
      ['top index crc', parts.topIndex.offset + parts.topIndex.size + 1],
      ['properties', parts.properties.offset + 10],
    ];
    for (const [what, offset] of targets) {
      const copy = copyFiles(dir, newDir());
      flipBit(join(copy, seg), offset, 4);
      const e = await refuses(copy, seg);
      expect(e.details?.file, what).toContain(seg);
    }
  });

  it('a damaged data block is never served: the reads it holds fail with CORRUPTION, verify reports it, other keys read fine', async () => {
    const { dir, seg, expected } = await buildSegment();
    const { dataBlocks } = parseSegment(readFileSync(join(dir, seg)));
    const versionBlocks = dataBlocks.filter((b) => b.userKeys.length > 0 && !b.tags.includes('S'));
    expect(versionBlocks.length).toBeGreaterThanOrEqual(3);
    let checked = 0;
    for (const block of versionBlocks) {
      const copy = copyFiles(dir, newDir());
      flipBit(join(copy, seg), block.offset + (block.size >> 1), 2);
      let s: CausalStorage;
      try {
        s = await open(copy);
      } catch (e) {
        // Opening reads the version of the last change (k29's newest): in this block, it refuses.
        expect(e).toMatchObject({ code: ErrorCodes.CORRUPTION, details: { offset: block.offset } });
        expect(block.userKeys).toContain(`seg/k${KEYS - 1}`);
        continue;
      }
      checked++;
      try {
        const failed = unreadable(s, seg, expected);
        // Every key with a version in the block; besides them at most the key before it,
        // whose history scan reads on into the block to find where that key ends.
        const inBlock = block.userKeys.map((k) => k.slice('seg/'.length));
        expect(failed).toEqual(expect.arrayContaining(inBlock));
        expect(failed.length).toBeLessThanOrEqual(inBlock.length + 1);
        const report = await s.verify();
        expect(report.ok).toBe(false);
        expect(report.problems.some((p) => p.problem.includes(seg) && p.problem.includes(String(block.offset)))).toBe(true);
      } finally {
        await s.close();
      }
    }
    expect(checked).toBeGreaterThanOrEqual(versionBlocks.length - 1);
  });

  it('a damaged block of value records fails only the reads of that value, and verify reports it', async () => {
    const { dir, seg, expected } = await buildSegment();
    const { dataBlocks } = parseSegment(readFileSync(join(dir, seg)));
    // Value records (`X`) come last: only the large value has one (small ones are inline).
    const valueBlocks = dataBlocks.filter((b) => /^X+$/.test(b.tags));
    expect(valueBlocks.length).toBeGreaterThan(0);
    let largeValueHit = 0;
    for (const block of valueBlocks) {
      const copy = copyFiles(dir, newDir());
      flipBit(join(copy, seg), block.offset + 1, 6);
      const s = await open(copy);
      try {
        // Only k7's history holds the value read through its record (the large one). The
        // last key in key order (k9) may fail too: its history's scan reads the entry after
        // its versions (to see that it is past them), the first value record.
        for (const k of unreadable(s, seg, expected)) {
          expect(['k7', 'k9']).toContain(k);
          if (k === 'k7') largeValueHit++;
        }
        const report = await s.verify();
        expect(report.ok).toBe(false);
        expect(report.problems.some((p) => p.problem.includes(seg) && p.problem.includes(String(block.offset)))).toBe(true);
      } finally {
        await s.close();
      }
    }
    expect(largeValueHit).toBe(1);
  });

  it('a damaged index or filter partition fails the reads that need it with CORRUPTION, never a wrong value', async () => {
    const { dir, seg, expected } = await buildSegment();
    const { indexPartitions, filterPartitions } = parseSegment(readFileSync(join(dir, seg)));
    for (const [what, part] of [
      ['index partition', indexPartitions[0]!],
      ['filter partition', filterPartitions[0]!],
    ] as const) {
      expect(part.size, what).toBeGreaterThan(0);
      const copy = copyFiles(dir, newDir());
      flipBit(join(copy, seg), part.offset + (part.size >> 1), 5);
      let s: CausalStorage;
      try {
        s = await open(copy);
      } catch (e) {
        // Opening reads the last change number, through the index and the filter.
        expect(e).toMatchObject({ code: ErrorCodes.CORRUPTION, details: { offset: part.offset } });
        continue;
      }
      try {
        expect(unreadable(s, seg, expected).length, what).toBeGreaterThan(0);
        if (what === 'index partition') expect((await s.verify()).ok).toBe(false);
      } finally {
        await s.close();
      }
    }
  });
});
