/**
 * Node-only entry: native SHA-256 through node:crypto. `installNodeHash()` makes
 * every id in the process use it; ids are identical to the portable backend's.
 */
import * as crypto from 'node:crypto';
import { setHashBackend, type HashBackend } from './hash.js';

const oneShot = (crypto as { hash?: (alg: string, data: string | Uint8Array, enc: 'hex') => string }).hash;

/** SHA-256 from node:crypto (one-shot `crypto.hash` where available). */
export const nodeHashBackend: HashBackend = oneShot
  ? {
      name: 'node',
      hexOfText: (text) => oneShot('sha256', text, 'hex'),
      hexOfBytes: (bytes) => oneShot('sha256', bytes, 'hex'),
    }
  : {
      name: 'node',
      hexOfText: (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex'),
      hexOfBytes: (bytes) => crypto.createHash('sha256').update(bytes).digest('hex'),
    };

/** Makes node:crypto the process's SHA-256. Idempotent. */
export function installNodeHash(): void {
  setHashBackend(nodeHashBackend);
}
