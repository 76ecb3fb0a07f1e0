/**
 * The modules a database loads on first use: the local engine (a browser page loads it
 * for its first in-memory database; its persistent ones run in a worker) and the sync
 * client (only a database that syncs needs it). One file, so that the database worker's
 * build can swap it for ./lazy-modules.static.ts (tsup.config.ts): the worker always
 * needs both, and a dynamic import makes the bundler wrap every module behind it in a
 * lazy initializer, which costs the worker's start-up ~10 ms of evaluation.
 */

/** The local engine's module. */
export const loadLocalEngineModule = (): Promise<typeof import('./local-engine.js')> => import('./local-engine.js');

/** The sync client's module. */
export const loadSyncModule = (): Promise<typeof import('./sync/index.js')> => import('./sync/index.js');
