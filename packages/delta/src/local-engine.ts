/**
 * The local engine: the parts of @koru/storage and @koru/query that a KoruDelta running
 * its store in this JavaScript realm calls (the store itself, indexes, views, queries,
 * aggregations, the change feed, the check of imported definitions). KoruDelta reaches
 * them only through this object (see ./engine-slot.ts), never by a static import, so a
 * page whose databases all run in a worker (`start({ path })` in a browser) does not
 * bundle them: the browser entry loads this module on the first local `start()`, a
 * chunk of its own; the other entries register it at once (./index.ts).
 */
import { CausalStorage } from '@koru/storage';
import { aggregate, changeStream, checkDefinitionRecord, executeQuery, IndexSet, matcherOf, querySpecOf, subscribe, ViewSet } from '@koru/query';

/** What KoruDelta's local handle calls of the engine. */
export const LOCAL_ENGINE = Object.freeze({
  CausalStorage,
  IndexSet,
  ViewSet,
  executeQuery,
  querySpecOf,
  matcherOf,
  aggregate,
  subscribe,
  changeStream,
  checkDefinitionRecord,
});

/** The type of {@link LOCAL_ENGINE}. */
export type LocalEngine = typeof LOCAL_ENGINE;
