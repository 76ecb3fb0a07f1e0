/**
 * The Node build of @koru/delta: everything in the browser-safe entry, plus durable
 * databases on the local file system, SHA-256 from node:crypto and CRC-32 from node:zlib.
 */
import { installNodeHash } from '@koru/engine/node';
import { FileAdapter, installNodeChecksum } from '@koru/storage/node';
import { registerPathAdapter, registerStoreOpener } from './platform.js';
// Registers the `ws` package's WebSocket for sync (Node 20 has no global one): the
// Node entry of @koru/client does it on import.
import '@koru/client';

installNodeHash();
installNodeChecksum();
registerPathAdapter((path, options) => new FileAdapter(path, options));
// Loaded on first use: a process that never opens a PostgreSQL store never loads its driver.
registerStoreOpener(async (url, options) => (await import('./postgres-delta.js')).PostgresDelta.open(url, options));

export * from './index.js';
