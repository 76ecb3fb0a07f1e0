// Shared by the query tests (not a test file itself).
import { expect } from 'vitest';
import { InvalidQueryError } from '../src/errors.js';

/** The INVALID_QUERY error `f` throws; fails the test when it throws nothing or anything else. */
export function refusal(f: () => unknown): InvalidQueryError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidQueryError);
    return e as InvalidQueryError;
  }
  throw new Error('not refused');
}
