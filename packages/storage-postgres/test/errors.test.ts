// PostgreSQL's failures as KoruErrors: what says "not reachable" is UNAVAILABLE, and a
// failure to connect at all is told apart from one mid-statement (a write's outcome is
// then known: not stored).
import { describe, expect, it } from 'vitest';
import { isUnreachable, koruErrorOf, neverSent } from '../src/errors.js';

const err = (code: string | undefined, message = 'x'): Error => Object.assign(new Error(message), code !== undefined ? { code } : {});

describe('PostgreSQL errors', () => {
  it('calls refused, reset, shutting down and out-of-slots UNAVAILABLE, and a protocol violation not', () => {
    for (const e of [err('ECONNREFUSED'), err('ECONNRESET'), err('57P01'), err('57P03'), err('53300'), err('08006'), err(undefined, 'Connection terminated unexpectedly')]) {
      expect(isUnreachable(e), String((e as { code?: string }).code ?? e.message)).toBe(true);
      expect(koruErrorOf(e, 'testing').code).toBe('UNAVAILABLE');
    }
    expect(isUnreachable(err('08P01'))).toBe(false);
    expect(koruErrorOf(err('57014'), 'testing').code).toBe('UNAVAILABLE'); // statement timeout
    expect(koruErrorOf(err('53100'), 'testing').code).toBe('STORAGE_FULL');
    expect(koruErrorOf(err('42P01'), 'testing')).toMatchObject({ code: 'IO_ERROR', details: { sqlState: '42P01' } });
  });

  it('tells a connection never made from one lost mid-statement', () => {
    for (const e of [err('ECONNREFUSED'), err('ENOTFOUND'), err('57P03'), err('53300'), err(undefined, 'timeout exceeded when trying to connect')]) expect(neverSent(e)).toBe(true);
    for (const e of [err('ECONNRESET'), err('57P01'), err(undefined, 'Connection terminated unexpectedly')]) expect(neverSent(e)).toBe(false);
  });
});
