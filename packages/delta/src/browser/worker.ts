/**
 * The database worker (built as `dist/browser-worker.js`, one self-contained ES module):
 * the tab that owns a browser database starts it, and it runs the engine on the
 * origin's private file system (sync access handles exist only in dedicated workers),
 * or on IndexedDB where that is missing (@koru/storage/browser's `openBrowserAdapter`).
 */
import { openBrowserAdapter } from '@koru/storage/browser';
import { serveDatabase, type WorkerPort } from './worker-serve.js';
import { installWasmHash } from './wasm-hash.js';

// Compiled while the tab takes its locks; every open waits for it, so the database never
// starts hashing with one backend and goes on with another (they agree; one is twice as fast).
const hashing = installWasmHash();

serveDatabase(globalThis as unknown as WorkerPort, async (path, options, listing) => {
  await hashing;
  return openBrowserAdapter(path, listing !== undefined ? { ...options, listing } : options);
});
