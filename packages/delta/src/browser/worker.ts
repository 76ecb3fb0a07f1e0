/**
 * The database worker (built as `dist/browser-worker.js`, one self-contained ES module):
 * the tab that owns a browser database starts it, and it runs the engine on the
 * origin's private file system, where synchronous access handles exist only in
 * dedicated workers.
 */
import { MemoryAdapter } from '@koru/storage';
import { serveDatabase, type WorkerPort } from './worker-serve.js';

serveDatabase(globalThis as unknown as WorkerPort, () => new MemoryAdapter());
