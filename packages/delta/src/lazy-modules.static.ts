/**
 * ./lazy-modules.ts for the database worker's build: the same loaders over static imports
 * (see there why).
 */
import * as localEngine from './local-engine.js';
import * as sync from './sync/index.js';

/** The local engine's module. */
export const loadLocalEngineModule = (): Promise<typeof import('./local-engine.js')> => Promise.resolve(localEngine);

/** The sync client's module. */
export const loadSyncModule = (): Promise<typeof import('./sync/index.js')> => Promise.resolve(sync);
