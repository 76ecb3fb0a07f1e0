// LruBlockCache: recency order, the byte budget, evicting a file, oversize blocks, a zero
// budget, and (on random operation sequences) agreement with a plain array model.
import { ErrorCodes } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_OVERHEAD_BYTES, LruBlockCache } from '../src/lsm/block-cache.js';

const block = (size: number, fill = 0) => new Uint8Array(size).fill(fill);
/** A block size small enough that four fit a budget of four blocks (each ≤ budget / 8). */
const SIZE = 64;
const COST = SIZE + BLOCK_OVERHEAD_BYTES;

describe('LruBlockCache', () => {
  it('gives back what was set, per (file, offset), and counts hits and misses', () => {
    const c = new LruBlockCache(10_000);
    const a = block(SIZE, 1);
    const b = block(SIZE, 2);
    c.set(1, 0, a);
    c.set(2, 0, b);
    expect(c.get(1, 0)).toBe(a);
    expect(c.get(2, 0)).toBe(b);
    expect(c.get(1, 100)).toBeUndefined();
    expect(c.get(3, 0)).toBeUndefined();
    expect(c.hits).toBe(2);
    expect(c.misses).toBe(2);
    expect(c.bytes).toBe(2 * COST);
    expect(c.budget).toBe(10_000);
  });

  it('evicts the least recently used: blocks read lately survive', () => {
    const c = new LruBlockCache(4 * COST);
    for (let i = 0; i < 4; i++) c.set(1, i * 100, block(SIZE, i));
    // Read 0 and 2 (0 last): the order, oldest first, is now 1, 3, 2, 0.
    c.get(1, 200);
    c.get(1, 0);
    c.set(1, 400, block(SIZE));
    expect(c.get(1, 100)).toBeUndefined();
    expect(c.get(1, 300)).toBeDefined();
    c.set(2, 0, block(SIZE));
    expect(c.get(1, 200)).toBeUndefined();
    for (const [f, o] of [[1, 0], [1, 300], [1, 400], [2, 0]] as const) expect(c.get(f, o)).toBeDefined();
    expect(c.bytes).toBe(4 * COST);
  });

  it('replacing a block at the same place recounts its bytes and makes it the newest', () => {
    const c = new LruBlockCache(4 * COST);
    c.set(1, 0, block(SIZE));
    c.set(1, 100, block(SIZE));
    c.set(1, 0, block(40, 9));
    expect(c.bytes).toBe(COST + 40 + BLOCK_OVERHEAD_BYTES);
    c.set(1, 200, block(SIZE));
    c.set(1, 300, block(SIZE));
    c.set(1, 400, block(SIZE));
    // 1/100 was the oldest once 1/0 was replaced.
    expect(c.get(1, 100)).toBeUndefined();
    expect(c.get(1, 0)).toEqual(block(40, 9));
    expect(c.bytes).toBe(3 * COST + 40 + BLOCK_OVERHEAD_BYTES);
  });

  it('never holds more than its budget', () => {
    const c = new LruBlockCache(5000);
    for (let i = 0; i < 1000; i++) {
      c.set(i % 7, i * 10, block((i * 37) % 600));
      expect(c.bytes).toBeLessThanOrEqual(5000);
    }
    expect(c.bytes).toBeGreaterThan(5000 - 600 - BLOCK_OVERHEAD_BYTES);
  });

  it('evictFile drops exactly that file’s blocks and their bytes', () => {
    const c = new LruBlockCache(100_000);
    for (let i = 0; i < 10; i++) {
      c.set(1, i * 100, block(SIZE));
      c.set(2, i * 100, block(SIZE));
    }
    c.evictFile(1);
    expect(c.bytes).toBe(10 * COST);
    for (let i = 0; i < 10; i++) {
      expect(c.get(1, i * 100)).toBeUndefined();
      expect(c.get(2, i * 100)).toBeDefined();
    }
    c.evictFile(1);
    c.evictFile(99);
    expect(c.bytes).toBe(10 * COST);
    // The recency list stays whole: filling up evicts file 2's blocks in order.
    for (let i = 0; i < 1000; i++) c.set(3, i, block(SIZE));
    expect(c.get(2, 0)).toBeUndefined();
    expect(c.bytes).toBeLessThanOrEqual(100_000);
  });

  it('does not cache a block bigger than an eighth of the budget, and drops a stale one', () => {
    const c = new LruBlockCache(8000);
    c.set(1, 0, block(1000));
    expect(c.get(1, 0)).toBeDefined();
    c.set(1, 0, block(1001));
    expect(c.get(1, 0)).toBeUndefined();
    expect(c.bytes).toBe(0);
  });

  it('caches nothing with a budget of 0', () => {
    const c = new LruBlockCache(0);
    c.set(1, 0, block(0));
    c.set(1, 8, block(1));
    expect(c.get(1, 0)).toBeUndefined();
    expect(c.get(1, 8)).toBeUndefined();
    expect(c.bytes).toBe(0);
    expect(c.misses).toBe(2);
  });

  it('refuses a budget that is not a non-negative integer', () => {
    for (const b of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new LruBlockCache(b)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    }
  });

  it('agrees with an array model on random sequences of get, set and evictFile', () => {
    type Op = { op: 'get' | 'set' | 'evict'; file: number; offset: number; size: number };
    const opArb = fc.record({
      op: fc.constantFrom('get' as const, 'get' as const, 'set' as const, 'evict' as const),
      file: fc.integer({ min: 1, max: 4 }),
      offset: fc.integer({ min: 0, max: 6 }).map((i) => i * 512),
      size: fc.integer({ min: 0, max: 300 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.array(opArb, { maxLength: 200 }), (budget, ops: Op[]) => {
        const c = new LruBlockCache(budget);
        /** Oldest first. */
        let model: Array<{ file: number; offset: number; block: Uint8Array }> = [];
        const cost = (b: Uint8Array) => b.byteLength + BLOCK_OVERHEAD_BYTES;
        const modelBytes = () => model.reduce((n, e) => n + cost(e.block), 0);
        let hits = 0;
        let misses = 0;
        for (const { op, file, offset, size } of ops) {
          const at = model.findIndex((e) => e.file === file && e.offset === offset);
          if (op === 'get') {
            const want = at < 0 ? undefined : model[at]!.block;
            if (at >= 0) model.push(...model.splice(at, 1));
            if (want === undefined) misses++;
            else hits++;
            expect(c.get(file, offset)).toBe(want);
          } else if (op === 'set') {
            const b = block(size, size & 255);
            if (at >= 0) model.splice(at, 1);
            if (budget > 0 && size <= Math.floor(budget / 8)) {
              model.push({ file, offset, block: b });
              while (modelBytes() > budget) model.shift();
            }
            c.set(file, offset, b);
          } else {
            model = model.filter((e) => e.file !== file);
            c.evictFile(file);
          }
          expect(c.bytes).toBe(modelBytes());
          expect(c.bytes).toBeLessThanOrEqual(budget);
        }
        expect([c.hits, c.misses]).toEqual([hits, misses]);
      }),
      { seed: fcSeed('LruBlockCache vs model') },
    );
  });
});
