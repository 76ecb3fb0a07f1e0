import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidArgumentError, isKoruError } from './errors.js';
import { HLC_MAX_LOGICAL, HLC_MAX_WALL, HybridClock, compareHlc, formatHlc, parseHlc, type HlcStamp } from './hlc.js';

/** A wall clock the test moves by hand. */
function fakeWall(start: number): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

const sign = (n: number): number => (n > 0 ? 1 : n < 0 ? -1 : 0);
const strCompare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const MAX_WALL = 999_999_999_999_999; // 15 digits
const stampArb: fc.Arbitrary<HlcStamp> = fc.record({
  wall: fc.oneof(fc.integer({ min: 0, max: MAX_WALL }), fc.integer({ min: 1_600_000_000_000, max: 1_600_000_000_100 })),
  logical: fc.oneof(fc.integer({ min: 0, max: HLC_MAX_LOGICAL }), fc.constantFrom(0, 1, HLC_MAX_LOGICAL - 1, HLC_MAX_LOGICAL)),
});

describe('HybridClock.tick', () => {
  it('takes the wall time, counts within a millisecond, and never goes back when the wall clock does', () => {
    const wall = fakeWall(1000);
    const clock = new HybridClock(wall.now);
    expect(clock.tick()).toEqual({ wall: 1000, logical: 0 });
    expect(clock.tick()).toEqual({ wall: 1000, logical: 1 });
    wall.set(500); // steps back
    expect(clock.tick()).toEqual({ wall: 1000, logical: 2 });
    wall.set(999);
    expect(clock.tick()).toEqual({ wall: 1000, logical: 3 });
    wall.set(2000);
    expect(clock.tick()).toEqual({ wall: 2000, logical: 0 });
    expect(clock.last).toEqual({ wall: 2000, logical: 0 });
  });

  it('is strictly increasing under a wall clock that jumps around, in stamps and in formatted strings', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5000, max: 5000 }), { minLength: 1, maxLength: 300 }), (jumps) => {
        const wall = fakeWall(1_700_000_000_000);
        const clock = new HybridClock(wall.now);
        let prev = clock.tick();
        for (const j of jumps) {
          wall.set(wall.now() + j);
          const next = clock.tick();
          expect(compareHlc(next, prev)).toBeGreaterThan(0);
          expect(formatHlc(next) > formatHlc(prev)).toBe(true);
          expect(next.wall).toBeGreaterThanOrEqual(wall.now()); // never behind the wall clock
          prev = next;
        }
      }),
      { seed: fcSeed('hlc: tick monotonic'), numRuns: 200 },
    );
  });

  it('floors a fractional wall clock to whole milliseconds', () => {
    const clock = new HybridClock(() => 1234.9);
    expect(clock.tick()).toEqual({ wall: 1234, logical: 0 });
  });

  it('uses Date.now by default', () => {
    const before = Date.now();
    const s = new HybridClock().tick();
    expect(s.wall).toBeGreaterThanOrEqual(before);
    expect(s.wall).toBeLessThanOrEqual(Date.now());
  });

  it('moves the wall part forward by 1 ms when the logical counter would overflow', () => {
    const clock = new HybridClock(() => 5, { wall: 10, logical: HLC_MAX_LOGICAL - 1 });
    expect(clock.tick()).toEqual({ wall: 10, logical: HLC_MAX_LOGICAL });
    expect(clock.tick()).toEqual({ wall: 11, logical: 0 });
    expect(clock.tick()).toEqual({ wall: 11, logical: 1 });
    expect(formatHlc({ wall: 10, logical: HLC_MAX_LOGICAL }) < formatHlc({ wall: 11, logical: 0 })).toBe(true);
  });

  it('overflows the counter when the wall clock is stuck for 10^6 ticks', () => {
    const clock = new HybridClock(() => 42);
    let prev = clock.tick();
    for (let i = 0; i < HLC_MAX_LOGICAL + 5; i++) {
      const next = clock.tick();
      // Plain checks: a million expect() calls would dominate the run time.
      if (compareHlc(next, prev) <= 0 || next.logical > HLC_MAX_LOGICAL) {
        throw new Error(`bad stamp ${formatHlc(next)} after ${formatHlc(prev)}`);
      }
      prev = next;
    }
    expect(prev).toEqual({ wall: 43, logical: 4 });
  });

  it('resumes after a restored last stamp', () => {
    const clock = new HybridClock(() => 0, { wall: 42, logical: 3 });
    expect(clock.last).toEqual({ wall: 42, logical: 3 });
    expect(clock.tick()).toEqual({ wall: 42, logical: 4 });
  });
});

describe('HybridClock.receive', () => {
  it('returns a stamp above the remote one and above every earlier local stamp', () => {
    const wall = fakeWall(1000);
    const clock = new HybridClock(wall.now);
    clock.tick(); // 1000.0
    // Remote ahead: take its wall, count past its logical.
    expect(clock.receive({ wall: 5000, logical: 7 })).toEqual({ wall: 5000, logical: 8 });
    // Remote behind, local ahead of the wall clock: count on locally.
    expect(clock.receive({ wall: 10, logical: 99 })).toEqual({ wall: 5000, logical: 9 });
    // Same wall as local: the larger logical plus one.
    expect(clock.receive({ wall: 5000, logical: 50 })).toEqual({ wall: 5000, logical: 51 });
    // The wall clock passed both: start a fresh millisecond.
    wall.set(9000);
    expect(clock.receive({ wall: 6000, logical: 3 })).toEqual({ wall: 9000, logical: 0 });
    expect(clock.tick()).toEqual({ wall: 9000, logical: 1 });
  });

  it('overflows to the next millisecond when the remote counter is at the maximum', () => {
    const clock = new HybridClock(() => 0);
    expect(clock.receive({ wall: 100, logical: HLC_MAX_LOGICAL })).toEqual({ wall: 101, logical: 0 });
    const same = new HybridClock(() => 0, { wall: 100, logical: HLC_MAX_LOGICAL });
    expect(same.receive({ wall: 100, logical: 3 })).toEqual({ wall: 101, logical: 0 });
  });

  it('stays above all remote and local stamps for random ticks, receives and wall jumps (property)', () => {
    type Op =
      | { readonly op: 'tick'; readonly jump: number }
      | { readonly op: 'receive'; readonly jump: number; readonly ahead: number; readonly logical: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('tick' as const), jump: fc.integer({ min: -3000, max: 3000 }) }),
      fc.record({
        op: fc.constant('receive' as const),
        jump: fc.integer({ min: -3000, max: 3000 }),
        ahead: fc.oneof(fc.integer({ min: -5000, max: 5000 }), fc.constant(0)),
        logical: fc.oneof(fc.nat({ max: 20 }), fc.constantFrom(HLC_MAX_LOGICAL - 1, HLC_MAX_LOGICAL)),
      }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 200 }), (ops) => {
        const wall = fakeWall(1_700_000_000_000);
        const clock = new HybridClock(wall.now);
        const issued: HlcStamp[] = [];
        let max: HlcStamp = { wall: 0, logical: 0 };
        for (const o of ops) {
          wall.set(wall.now() + o.jump);
          let s: HlcStamp;
          if (o.op === 'tick') s = clock.tick();
          else {
            // Remote stamps near the local clock's last stamp, so walls collide often.
            const remote = { wall: Math.max(0, clock.last.wall + o.ahead), logical: o.logical };
            s = clock.receive(remote);
            expect(compareHlc(s, remote)).toBeGreaterThan(0);
            expect(formatHlc(s) > formatHlc(remote)).toBe(true);
          }
          expect(compareHlc(s, max)).toBeGreaterThan(0);
          expect(s.logical).toBeLessThanOrEqual(HLC_MAX_LOGICAL);
          expect(Number.isSafeInteger(s.wall)).toBe(true);
          expect(s.wall).toBeGreaterThanOrEqual(wall.now());
          expect(clock.last).toEqual(s);
          issued.push(s);
          max = s;
        }
        const strings = issued.map(formatHlc);
        expect([...strings].sort()).toEqual(strings);
        expect(new Set(strings).size).toBe(strings.length);
      }),
      { seed: fcSeed('hlc: receive'), numRuns: 300 },
    );
  });
});

describe('HybridClock.observe', () => {
  it('makes later stamps exceed what was seen, and ignores older stamps', () => {
    const clock = new HybridClock(() => 100);
    clock.observe({ wall: 5000, logical: 7 });
    expect(clock.last).toEqual({ wall: 5000, logical: 7 });
    expect(clock.tick()).toEqual({ wall: 5000, logical: 8 });
    clock.observe({ wall: 4000, logical: 999 });
    clock.observe({ wall: 5000, logical: 8 });
    expect(clock.last).toEqual({ wall: 5000, logical: 8 });
    expect(clock.tick()).toEqual({ wall: 5000, logical: 9 });
    clock.observe({ wall: 5000, logical: HLC_MAX_LOGICAL });
    expect(clock.tick()).toEqual({ wall: 5001, logical: 0 });
  });
});

describe('formatHlc / parseHlc', () => {
  it('formats as 15-digit wall ms, dash, 6-digit counter', () => {
    expect(formatHlc({ wall: 1_700_000_000_123, logical: 42 })).toBe('001700000000123-000042');
    expect(formatHlc({ wall: 0, logical: 0 })).toBe('000000000000000-000000');
    expect(formatHlc({ wall: MAX_WALL, logical: HLC_MAX_LOGICAL })).toBe('999999999999999-999999');
    expect(parseHlc('001700000000123-000042')).toEqual({ wall: 1_700_000_000_123, logical: 42 });
  });

  it('round-trips, and string order is clock order (property)', () => {
    fc.assert(
      fc.property(stampArb, stampArb, (a, b) => {
        const fa = formatHlc(a);
        const fb = formatHlc(b);
        expect(fa).toMatch(/^\d{15}-\d{6}$/);
        expect(parseHlc(fa)).toEqual(a);
        expect(formatHlc(parseHlc(fa))).toBe(fa);
        expect(sign(strCompare(fa, fb))).toBe(sign(compareHlc(a, b)));
      }),
      { seed: fcSeed('hlc: format round trip'), numRuns: 1000 },
    );
  });

  it.each([
    '',
    'abc',
    '1-1',
    '00000000000001-000001', // 14-digit wall
    '0000000000000001-000001', // 16-digit wall
    '000000000000001-00001', // 5-digit counter
    '000000000000001-0000001', // 7-digit counter
    '000000000000001_000001',
    '000000000000001-000001\n',
    ' 000000000000001-000001',
    '+00000000000001-000001',
    '-00000000000001-000001',
    '00000000000000a-000001',
    '００００００００００００００1-000001', // full-width digits
    '٠٠٠٠٠٠٠٠٠٠٠٠٠٠١-٠٠٠٠٠١', // Arabic-Indic digits
  ])('rejects %j with INVALID_ARGUMENT', (text) => {
    let thrown: unknown;
    try {
      parseHlc(text);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect(isKoruError(thrown, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect((thrown as Error).message).toContain(JSON.stringify(text));
  });
});

describe('compareHlc', () => {
  it('orders by wall first, then logical', () => {
    expect(compareHlc({ wall: 1, logical: 999 }, { wall: 2, logical: 0 })).toBeLessThan(0);
    expect(compareHlc({ wall: 2, logical: 0 }, { wall: 1, logical: 999 })).toBeGreaterThan(0);
    expect(compareHlc({ wall: 2, logical: 3 }, { wall: 2, logical: 4 })).toBeLessThan(0);
    expect(compareHlc({ wall: 2, logical: 4 }, { wall: 2, logical: 4 })).toBe(0);
  });
});

describe('the end of the stamp format', () => {
  const END: HlcStamp = { wall: HLC_MAX_WALL, logical: HLC_MAX_LOGICAL };
  const codeOf = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return isKoruError(e) ? e.code : 'not a KoruError';
    }
    return undefined;
  };

  it('is never passed: tick and receive refuse with CLOCK_SKEW and leave the clock as it was', () => {
    const clock = new HybridClock(() => 1000, END);
    expect(codeOf(() => clock.tick())).toBe(ErrorCodes.CLOCK_SKEW);
    expect(clock.last).toEqual(END);
    const fresh = new HybridClock(() => 1000);
    expect(codeOf(() => fresh.receive(END))).toBe(ErrorCodes.CLOCK_SKEW);
    expect(fresh.last).toEqual({ wall: 0, logical: 0 });
    // A wall clock past the format is refused too, rather than formatted as 16 digits.
    expect(codeOf(() => new HybridClock(() => HLC_MAX_WALL + 1).tick())).toBe(ErrorCodes.CLOCK_SKEW);
  });

  it('carries the counter into the wall part right up to the last stamp, each one parsing back', () => {
    const clock = new HybridClock(() => 0, { wall: HLC_MAX_WALL - 1, logical: HLC_MAX_LOGICAL - 1 });
    const issued = [clock.tick(), clock.tick(), ...Array.from({ length: 3 }, () => clock.tick())];
    expect(issued[0]).toEqual({ wall: HLC_MAX_WALL - 1, logical: HLC_MAX_LOGICAL });
    expect(issued[1]).toEqual({ wall: HLC_MAX_WALL, logical: 0 });
    for (const s of issued) expect(parseHlc(formatHlc(s))).toEqual(s);
    expect(formatHlc(END)).toBe('999999999999999-999999');
    expect(parseHlc('999999999999999-999999')).toEqual(END);
  });

  it('formatHlc refuses a stamp it could not parse back', () => {
    for (const s of [{ wall: HLC_MAX_WALL + 1, logical: 0 }, { wall: 0, logical: HLC_MAX_LOGICAL + 1 }, { wall: -1, logical: 0 }]) {
      expect(codeOf(() => formatHlc(s))).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });

  it('every stamp a clock issues parses back (property)', () => {
    fc.assert(
      fc.property(stampArb, fc.integer({ min: 0, max: MAX_WALL }), fc.integer({ min: 1, max: 5 }), (last, now, n) => {
        const clock = new HybridClock(() => now, last);
        for (let i = 0; i < n; i++) {
          let s: HlcStamp;
          try {
            s = clock.tick();
          } catch (e) {
            expect(isKoruError(e, ErrorCodes.CLOCK_SKEW)).toBe(true);
            return;
          }
          expect(parseHlc(formatHlc(s))).toEqual(s);
        }
      }),
      { seed: fcSeed('hlc: issued stamps parse'), numRuns: 300 },
    );
  });
});
