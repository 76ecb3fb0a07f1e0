import { describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidNamespaceError,
  InvalidValueError,
  KoruError,
  UnsupportedError,
  ValueTooDeepError,
  ValueTooLargeError,
  isKoruError,
  type ErrorCode,
  type KoruErrorOptions,
} from './errors.js';

type Subclass = new (message: string, options?: KoruErrorOptions) => KoruError;
const subclasses: ReadonlyArray<readonly [Subclass, string, ErrorCode]> = [
  [InvalidNamespaceError, 'InvalidNamespaceError', 'INVALID_NAMESPACE'],
  [InvalidKeyError, 'InvalidKeyError', 'INVALID_KEY'],
  [InvalidValueError, 'InvalidValueError', 'INVALID_VALUE'],
  [ValueTooLargeError, 'ValueTooLargeError', 'VALUE_TOO_LARGE'],
  [ValueTooDeepError, 'ValueTooDeepError', 'VALUE_TOO_DEEP'],
  [InvalidArgumentError, 'InvalidArgumentError', 'INVALID_ARGUMENT'],
  [UnsupportedError, 'UnsupportedError', 'UNSUPPORTED'],
];

describe('ErrorCodes', () => {
  it('are string literals equal to their names', () => {
    for (const [name, code] of Object.entries(ErrorCodes)) {
      expect(code).toBe(name);
      expect(code).toMatch(/^[A-Z_]+$/);
    }
    for (const code of ['KEY_NOT_FOUND', 'VERSION_CONFLICT', 'DATABASE_LOCKED', 'CORRUPTION', 'CLOSED']) {
      expect(ErrorCodes).toHaveProperty(code, code);
    }
  });
});

describe('KoruError subclasses', () => {
  it.each(subclasses)('%o has name %s and code %s', (Cls, name, code) => {
    const e = new Cls('it went wrong');
    expect(e).toBeInstanceOf(Cls);
    expect(e).toBeInstanceOf(KoruError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(code);
    expect(e.name).toBe(name);
    expect(e.message).toBe('it went wrong');
    expect(String(e)).toBe(`${name}: it went wrong`);
    expect(e.stack).toContain('it went wrong');
    expect(isKoruError(e)).toBe(true);
    expect(isKoruError(e, code)).toBe(true);
    expect(isKoruError(e, code === 'CLOSED' ? 'CORRUPTION' : 'CLOSED')).toBe(false);
    // Not an instance of the sibling classes.
    for (const [Other] of subclasses) if (Other !== Cls) expect(e).not.toBeInstanceOf(Other);
  });

  it('KoruError itself carries any code', () => {
    const e = new KoruError(ErrorCodes.KEY_NOT_FOUND, 'no such key');
    expect(e.name).toBe('KoruError');
    expect(e.code).toBe('KEY_NOT_FOUND');
    expect(isKoruError(e, 'KEY_NOT_FOUND')).toBe(true);
  });

  it('a subclass of a subclass reports its own name', () => {
    class MyNamespaceError extends InvalidNamespaceError {}
    const e = new MyNamespaceError('x');
    expect(e.name).toBe('MyNamespaceError');
    expect(e.code).toBe('INVALID_NAMESPACE');
    expect(e).toBeInstanceOf(InvalidNamespaceError);
  });
});

describe('details, cause and the wire form', () => {
  it('toJSON is { code, message, details } and JSON.stringify uses it', () => {
    const e = new InvalidKeyError('key too long', { details: { key: 'k', bytes: 2000 } });
    expect(e.toJSON()).toEqual({ code: 'INVALID_KEY', message: 'key too long', details: { key: 'k', bytes: 2000 } });
    expect(Object.keys(e.toJSON())).toEqual(['code', 'message', 'details']);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      code: 'INVALID_KEY',
      message: 'key too long',
      details: { key: 'k', bytes: 2000 },
    });
  });

  it('details default to an empty frozen object', () => {
    const e = new UnsupportedError('no');
    expect(e.details).toEqual({});
    expect(Object.isFrozen(e.details)).toBe(true);
    expect(e.toJSON().details).toEqual({});
  });

  it('details are a frozen copy: the caller cannot change them afterwards', () => {
    const details: Record<string, unknown> = { path: 'value.a' };
    const e = new InvalidValueError('bad', { details });
    expect(Object.isFrozen(e.details)).toBe(true);
    expect(e.details).not.toBe(details);
    details.path = 'changed';
    expect(e.details.path).toBe('value.a');
    expect(() => {
      (e.details as Record<string, unknown>).path = 'x';
    }).toThrow(TypeError);
    expect(Object.isFrozen(details)).toBe(false);
  });

  it('keeps a cause only when one is given', () => {
    const root = new Error('disk on fire');
    const e = new InvalidArgumentError('wrapped', { cause: root });
    expect(e.cause).toBe(root);
    expect(new InvalidArgumentError('plain')).not.toHaveProperty('cause');
    expect(new InvalidArgumentError('falsy cause', { cause: 0 }).cause).toBe(0);
  });
});

describe('isKoruError', () => {
  it('is false for anything that is not a KoruError', () => {
    expect(isKoruError(new Error('x'))).toBe(false);
    expect(isKoruError(new TypeError('x'))).toBe(false);
    expect(isKoruError({ code: 'INVALID_KEY', message: 'x', name: 'InvalidKeyError' })).toBe(false);
    expect(isKoruError(null)).toBe(false);
    expect(isKoruError(undefined)).toBe(false);
    expect(isKoruError('INVALID_KEY')).toBe(false);
  });
});
