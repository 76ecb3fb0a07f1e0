/** Parsing of the points in time users pass to `getAt` and friends. */
import { InvalidArgumentError } from '@koru/engine';

/** A point in time: a Date, an ISO-8601 string or epoch milliseconds. */
export type TimeInput = Date | string | number;

/** Epoch ms of `t`. @throws InvalidArgumentError for anything that is not a valid time */
export function toEpochMs(t: TimeInput): number {
  let ms: number;
  if (t instanceof Date) ms = t.getTime();
  else if (typeof t === 'number') ms = t;
  else if (typeof t === 'string') {
    const trimmed = t.trim();
    ms = /^-?\d+$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed);
  } else ms = Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new InvalidArgumentError(`not a valid time: ${JSON.stringify(String(t))} (use a Date, an ISO-8601 string or epoch ms)`);
  }
  return ms;
}
