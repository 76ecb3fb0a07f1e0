/**
 * The browser build of @koru/delta: everything in the main entry, plus databases that
 * persist and are shared by every tab of the origin: `KoruDelta.start({ path: 'my-app' })`
 * runs the engine in a dedicated worker (on the origin private file system) of the tab
 * that owns the database, and every other tab forwards to it (see ./browser/session.ts).
 * Bundlers take it through the package's `browser` export condition. The local engine
 * (in-memory databases, `start()` without path) is loaded on the first such `start()`:
 * bundlers that split dynamic imports (Vite, webpack, esbuild with `--splitting`) keep it
 * out of the page.
 */
import { registerSharedDatabaseOpener } from './platform.js';
import { SharedDatabase } from './browser/shared-database.js';

registerSharedDatabaseOpener((path, options) => SharedDatabase.open(path, options));

// The public names without ./index.ts's static engine: a page whose databases run in
// the worker does not bundle the engine; an in-memory `start()` loads it (a chunk).
export * from './api.js';
export { SharedDatabase } from './browser/shared-database.js';
export type { WorkerSource } from './platform.js';
