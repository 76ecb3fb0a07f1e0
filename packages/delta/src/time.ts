/** Parsing of the points in time users pass to `getAt` and friends. */
import { InvalidArgumentError, parseHlc, type HlcStamp } from '@koru/engine';

/**
 * A point in time: a Date, an ISO-8601 string or epoch milliseconds; `getAt` also takes
 * a version's `hlc` string (`WWWWWWWWWWWWWWW-LLLLLL`), which reaches versions written in
 * the same millisecond one by one.
 */
export type TimeInput = Date | string | number;

/** A version's `hlc` as `getAt` accepts it. */
const HLC_FORM = /^\d{15}-\d{6}$/;

/**
 * What `getAt` looks up: a clock stamp for an `hlc` string, else epoch ms (see {@link toEpochMs}).
 * @throws InvalidArgumentError for anything that is neither
 */
export function toTimePoint(t: TimeInput): number | HlcStamp {
  if (typeof t === 'string') {
    const trimmed = t.trim();
    if (HLC_FORM.test(trimmed)) return parseHlc(trimmed);
  }
  try {
    return toEpochMs(t);
  } catch {
    throw new InvalidArgumentError(`not a valid time: ${describe(t)} (use a Date, an ISO-8601 string, epoch ms or a version's hlc)`);
  }
}

/** The largest time a Date can hold, in ms either side of the epoch. */
const MAX_EPOCH_MS = 8.64e15;

function describe(t: unknown): string {
  if (t instanceof Date) return 'an invalid Date';
  try {
    return JSON.stringify(String(t));
  } catch {
    return typeof t;
  }
}

/** Epoch ms of `t`. @throws InvalidArgumentError for anything that is not a valid time */
export function toEpochMs(t: TimeInput): number {
  let ms: number;
  if (t instanceof Date) ms = t.getTime();
  else if (typeof t === 'number') ms = t;
  else if (typeof t === 'string') {
    const trimmed = t.trim();
    ms = /^-?\d+$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed);
  } else ms = Number.NaN;
  // Beyond ±8.64e15 ms a Date cannot represent the time (and could not be printed).
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_EPOCH_MS) {
    throw new InvalidArgumentError(`not a valid time: ${describe(t)} (use a Date, an ISO-8601 string or epoch ms)`);
  }
  return ms;
}
