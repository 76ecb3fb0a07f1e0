/**
 * The Node build of @koru/delta: everything in the browser-safe entry, plus durable
 * databases on the local file system and SHA-256 from node:crypto.
 */
import { installNodeHash } from '@koru/engine/node';
import { FileAdapter } from '@koru/storage/node';
import { registerPathAdapter } from './platform.js';

installNodeHash();
registerPathAdapter((path, options) => new FileAdapter(path, options));

export * from './index.js';
