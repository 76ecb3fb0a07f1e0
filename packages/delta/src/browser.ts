/**
 * The browser build of @koru/delta: everything in the main entry, plus databases that
 * persist and are shared by every tab of the origin: `KoruDelta.start({ path: 'my-app' })`
 * runs the engine in a dedicated worker (on the origin private file system) of the tab
 * that owns the database, and every other tab forwards to it (see ./browser/session.ts).
 * Bundlers take it through the package's `browser` export condition.
 */
import { registerSharedDatabaseOpener } from './platform.js';
import { SharedDatabase } from './browser/shared-database.js';

registerSharedDatabaseOpener((path, options) => SharedDatabase.open(path, options));

export * from './index.js';
export { SharedDatabase } from './browser/shared-database.js';
export type { WorkerSource } from './platform.js';
