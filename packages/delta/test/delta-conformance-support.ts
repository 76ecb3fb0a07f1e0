// Shared parts of the KoruDelta conformance suite (./delta-conformance.ts): the
// factories of each kind of database, the context the suite's parts share, and helpers.
import { expect } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';
import { canonicalize, valueIdOfCanonical, versionIdOf } from '@koru/engine';
import { KoruDelta, type Version } from '@koru/delta';

/** A fresh, empty database and how to close it and remove what it left. */
export interface OpenedDelta {
  readonly db: KoruDelta;
  dispose(): Promise<void>;
}

/** Opens a fresh, empty database of one kind. */
export type OpenDelta = () => Promise<OpenedDelta>;

/** What the suite's parts share: the test's database, and fresh ones of any kind. */
export interface ConformanceContext {
  /** The database of the running test (fresh for each test). */
  db(): KoruDelta;
  /** Another fresh database: of the kind under test by default, closed after the test. */
  fresh(open?: OpenDelta): Promise<KoruDelta>;
  /** Other kinds to import an export into (name, factory), besides the kind under test. */
  readonly importInto: ReadonlyArray<readonly [string, OpenDelta]>;
}

/** Options of {@link runDeltaConformance}. */
export interface DeltaConformanceOptions {
  /** Kinds of database an export is also imported into (default: an in-memory one). */
  readonly importInto?: ReadonlyArray<readonly [string, OpenDelta]>;
}

/** An embedded in-memory database, the reference the suite compares answers with. */
export const openMemory: OpenDelta = async () => {
  const db = await KoruDelta.start();
  return { db, dispose: () => db.close() };
};

/** An embedded durable database in a fresh temporary directory, removed at dispose. */
export const openDurable: OpenDelta = async () => {
  const { dir, cleanup } = tempDir('koru-delta-conformance-');
  const db = await KoruDelta.start({ path: dir });
  return {
    db,
    dispose: async () => {
      await db.close();
      cleanup();
    },
  };
};

/** Resolves after `ms` ms: lets the wall clock move on between writes a test tells apart by time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `done()` holds, polling every 5 ms; fails after `timeoutMs`. */
export async function waitFor(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The ids a version must carry: recomputed from its fields, as the engine defines them. */
export function expectContentAddressed(v: Version): void {
  const valueId = v.deleted ? null : valueIdOfCanonical(canonicalize(v.value).text);
  expect(v.valueId, `valueId of ${v.namespace}/${v.key}`).toBe(valueId);
  const id = versionIdOf({ namespace: v.namespace, key: v.key, valueId, previousVersion: v.previousVersion, hlc: v.hlc, node: v.node, deleted: v.deleted });
  expect(v.versionId, `versionId of ${v.namespace}/${v.key}`).toBe(id);
}

/** Keys sorted as KoruDelta lists them: by their UTF-8 bytes. */
export function utf8Sorted(keys: readonly string[]): string[] {
  const enc = new TextEncoder();
  return [...keys].sort((a, b) => {
    const x = enc.encode(a);
    const y = enc.encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  });
}

