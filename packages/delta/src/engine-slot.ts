/**
 * Where KoruDelta finds its local engine (./local-engine.ts): registered at once by the
 * entries that always need it (Node, the plain entry), loaded on first use by the
 * browser entry, whose persistent databases run in a worker. A module variable, not a
 * global slot: the ESM and CJS builds loaded in one process each have their own engine
 * classes (their errors must be the ones each build's callers test with `instanceof`).
 */
import { IoError } from '@koru/storage/errors';
import type { LocalEngine } from './local-engine.js';
import { loadLocalEngineModule } from './lazy-modules.js';

let engine: LocalEngine | undefined;

/** Makes `e` the engine of local databases (called by the entries that bundle it). */
export function registerLocalEngine(e: LocalEngine): void {
  engine = e;
}

/**
 * The engine, loading it first if no entry registered it (the browser entry: a chunk
 * of its own, fetched on the first local `start()`).
 * @throws IO_ERROR when it cannot be loaded (a network failure fetching the chunk)
 */
export async function loadLocalEngine(): Promise<LocalEngine> {
  if (engine !== undefined) return engine;
  let loaded: LocalEngine;
  try {
    loaded = (await loadLocalEngineModule()).LOCAL_ENGINE;
  } catch (e) {
    throw new IoError(`cannot load the database engine: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  engine ??= loaded;
  return engine;
}

/**
 * The engine, once loaded: a local KoruDelta exists only after `start()` loaded it.
 * @throws Error (a bug) when called before
 */
export function loadedLocalEngine(): LocalEngine {
  if (engine === undefined) throw new Error('koru: the local engine is used before it was loaded (a bug)');
  return engine;
}
