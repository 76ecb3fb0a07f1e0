/**
 * @koru/delta — KoruDelta, the invisible database. This entry is browser-safe
 * (in-memory databases); under Node the package resolves to `node.ts`, which adds
 * durable databases (`start({ path })`) and native hashing. It registers the local
 * engine at once (bundlers taking it keep the whole engine: every database of this
 * entry runs in this realm); the browser entry instead loads it on first use.
 */
import { registerLocalEngine } from './engine-slot.js';
import { LOCAL_ENGINE } from './local-engine.js';

registerLocalEngine(LOCAL_ENGINE);

export * from './api.js';
