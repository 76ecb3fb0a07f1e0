// Shared assertions for the @koru/delta tests (not a test file itself).
import { expect } from 'vitest';
import { KoruError, type KoruDelta, type Version } from '@koru/delta';

/**
 * Calls `fn`, which must return a promise (KoruDelta methods never throw
 * synchronously) that rejects with a KoruError of `code` whose message matches
 * every pattern in `message`. Returns the error for further checks.
 */
export async function expectKoruError(
  fn: () => Promise<unknown>,
  code: string,
  ...message: RegExp[]
): Promise<KoruError> {
  let result: Promise<unknown>;
  try {
    result = fn();
  } catch (e) {
    throw new Error(`expected a rejected promise with ${code}, but the call threw synchronously: ${String(e)}`);
  }
  expect(result).toBeInstanceOf(Promise);
  let error: unknown;
  let resolved = false;
  try {
    await result;
    resolved = true;
  } catch (e) {
    error = e;
  }
  expect(resolved, `expected ${code}, but the call succeeded`).toBe(false);
  expect(error, `expected a KoruError ${code}, got ${String(error)}`).toBeInstanceOf(KoruError);
  const k = error as KoruError;
  expect(k.code, k.message).toBe(code);
  for (const m of message) expect(k.message).toMatch(m);
  return k;
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes (WebCrypto: works in browsers too). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export const HEX64 = /^[0-9a-f]{64}$/;
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const HLC = /^\d{15}-\d{6}$/;

/** Asserts a key's history is one intact hash chain with strictly increasing HLC stamps. */
export function expectIntactChain(history: readonly Version[]): void {
  for (let i = 0; i < history.length; i++) {
    const v = history[i]!;
    expect(v.previousVersion, `history[${i}] of ${v.namespace}/${v.key}`).toBe(i === 0 ? null : history[i - 1]!.versionId);
    if (i > 0) expect(v.hlc > history[i - 1]!.hlc, `hlc of history[${i}] increases`).toBe(true);
  }
}

/** A manual wall clock for `start({ now })`. */
export function manualClock(start: number): { now: () => number; set: (t: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (x) => (t = x), advance: (ms) => (t += ms) };
}

/** Everything observable about a database's data, for before/after comparisons. */
export async function dump(db: KoruDelta): Promise<Map<string, Version[]>> {
  const out = new Map<string, Version[]>();
  for (const ns of await db.listNamespaces()) {
    for (const key of await db.listKeys(ns)) out.set(`${ns}\u0000${key}`, await db.history(ns, key));
  }
  return out;
}
