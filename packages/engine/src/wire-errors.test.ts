// Wire errors back to KoruErrors: the engine's classes by code, the caller's makers first,
// unknown codes kept, malformed input refused.
import { describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidArgumentError, InvalidKeyError, KoruError, UnsupportedError } from './errors.js';
import { koruErrorFromWire, type KoruErrorMaker } from './wire-errors.js';

describe('koruErrorFromWire', () => {
  it("rebuilds the engine's classes with the same code, message and details", () => {
    const e = koruErrorFromWire(new InvalidKeyError('bad key', { details: { key: '' } }).toJSON());
    expect(e).toBeInstanceOf(InvalidKeyError);
    expect(e).toMatchObject({ code: 'INVALID_KEY', message: 'bad key', details: { key: '' }, name: 'InvalidKeyError' });
    expect(koruErrorFromWire({ code: 'UNSUPPORTED', message: 'no' })).toBeInstanceOf(UnsupportedError);
  });

  it("uses the caller's makers first, and keeps an unknown code as a plain KoruError", () => {
    class Custom extends KoruError {}
    const makers = new Map<string, KoruErrorMaker>([[ErrorCodes.KEY_NOT_FOUND, (m, o) => new Custom(ErrorCodes.KEY_NOT_FOUND, m, o)]]);
    expect(koruErrorFromWire({ code: 'KEY_NOT_FOUND', message: 'gone' }, makers)).toBeInstanceOf(Custom);
    const unknown = koruErrorFromWire({ code: 'NEWER_CODE', message: 'from the future', details: { a: 1 } });
    expect(unknown?.constructor).toBe(KoruError);
    expect(unknown).toMatchObject({ code: 'NEWER_CODE', message: 'from the future', details: { a: 1 } });
  });

  it('a missing message becomes the code; details that are not an object are dropped; no string code is undefined', () => {
    expect(koruErrorFromWire({ code: 'INVALID_ARGUMENT', details: [1] })).toMatchObject({ message: 'INVALID_ARGUMENT', details: {} });
    expect(koruErrorFromWire({ code: 'INVALID_ARGUMENT' })).toBeInstanceOf(InvalidArgumentError);
    for (const bad of [null, undefined, 'x', 42, {}, { code: 7 }]) expect(koruErrorFromWire(bad)).toBeUndefined();
  });
});
