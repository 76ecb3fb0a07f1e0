/** Validation of namespaces and keys (DESIGN §2). */
import { InvalidKeyError, InvalidNamespaceError, isWellFormedString, utf8Length } from '@koru/engine';

/** Longest namespace, in characters. */
export const MAX_NAMESPACE_LENGTH = 128;
/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * The reserved namespace where the database keeps its own records (index and view
 * definitions). Users cannot name it (`_` is reserved); it is stored, versioned and
 * recovered like any other namespace, but hidden from listings, counts and the change feed.
 */
export const SYSTEM_NAMESPACE = '_koru';

const NAMESPACE_FORM = /^[A-Za-z0-9.-][A-Za-z0-9_.-]{0,127}$/;

/** @throws InvalidNamespaceError unless `ns` is 1–128 chars of `[A-Za-z0-9_.-]` not starting with `_`. */
export function validateNamespace(ns: unknown): asserts ns is string {
  if (typeof ns !== 'string') throw new InvalidNamespaceError(`namespace must be a string, got ${typeof ns}`);
  if (NAMESPACE_FORM.test(ns)) return;
  if (ns.length === 0) throw new InvalidNamespaceError('namespace must not be empty');
  if (ns.length > MAX_NAMESPACE_LENGTH) {
    throw new InvalidNamespaceError(`namespace is ${ns.length} characters, over the limit of ${MAX_NAMESPACE_LENGTH}`);
  }
  if (ns.startsWith('_')) throw new InvalidNamespaceError(`namespace ${JSON.stringify(ns)} starts with "_", which is reserved`);
  throw new InvalidNamespaceError(`namespace ${JSON.stringify(ns)} may only contain A-Z, a-z, 0-9, "_", "." and "-"`);
}

/** @throws InvalidKeyError unless `key` is a non-empty well-formed string of ≤ 1,024 UTF-8 bytes without NUL. */
export function validateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidKeyError(`key must be a string, got ${typeof key}`);
  if (key.length === 0) throw new InvalidKeyError('key must not be empty');
  if (key.includes('\u0000')) throw new InvalidKeyError('key must not contain NUL');
  if (!isWellFormedString(key)) throw new InvalidKeyError('key contains a lone surrogate (not valid UTF-8)');
  if (key.length > MAX_KEY_BYTES / 3 && utf8Length(key) > MAX_KEY_BYTES) {
    throw new InvalidKeyError(`key is ${utf8Length(key)} UTF-8 bytes, over the limit of ${MAX_KEY_BYTES}`);
  }
}
