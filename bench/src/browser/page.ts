/**
 * The browser bench's page: bundled by esbuild (platform "browser", so `@koru/delta`
 * resolves to its browser build) and run in Chromium. Every store runs in this one page,
 * one after the other, so they share the tab, its event loop and its storage quota. The
 * runner (run.ts) calls `globalThis.koruBench.*` through playwright; each call does its
 * own timing with `performance.now()` and returns plain numbers.
 */
import { KoruDelta } from '@koru/delta';
import Dexie, { type Table } from 'dexie';
import PouchDB from 'pouchdb-browser';

/** The stores compared. */
export type Subject = 'koru' | 'dexie' | 'pouchdb';

/** How KoruDelta ran: on a persistent database, or the in-memory build (no `path` support yet). */
export type KoruMode = 'persistent' | 'memory';

/** A timed loop's outcome: operations (or items) per second and, per call, p50/p99 in ms. */
export interface Rate {
  readonly perSecond: number;
  readonly count: number;
  readonly seconds: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
}

interface Doc {
  readonly name: string;
  readonly email: string;
  readonly city: string;
  readonly age: number;
  readonly tags: readonly string[];
  readonly bio: string;
  readonly v: number;
}

interface DexieDoc extends Doc {
  readonly id: string;
}
interface DexieVersion extends Doc {
  readonly key: string;
}

const CITIES = ['Oslo', 'Rome', 'Lima', 'Kyiv', 'Pune', 'Cali', 'Bern', 'Nice'];

/** A ~200-byte JSON document (the size the Node bench uses), different for each (i, v). */
function doc(i: number, v: number): Doc {
  return {
    name: `user-${i}`,
    email: `user${i}@example.com`,
    city: CITIES[i % CITIES.length]!,
    age: (i * 7 + v) % 90,
    tags: ['alpha', `t${i % 13}`, `v${v}`],
    bio: `Version ${v} of the profile of user ${i}; a sentence of filler to reach the size.`,
    v,
  };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Awaits `op(i)` one call at a time for about `seconds`, timing every call (an app
 * awaiting each write, which is what a persisted put costs the user).
 */
async function timedLoop(seconds: number, op: (i: number) => Promise<unknown>, itemsPerOp = 1): Promise<Rate> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  let i = 0;
  while (now < end) {
    const t0 = now;
    await op(i++);
    now = performance.now();
    latencies.push(now - t0);
  }
  const elapsed = (now - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { perSecond: (i * itemsPerOp) / elapsed, count: i * itemsPerOp, seconds: elapsed, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) };
}

/** Like timedLoop for calls too fast to time one by one: the clock is read every 256 calls. */
async function fastLoop(seconds: number, op: (i: number) => Promise<unknown>): Promise<Rate> {
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  let i = 0;
  while (now < end) {
    for (let j = 0; j < 256; j++) await op(i++);
    now = performance.now();
  }
  const elapsed = (now - start) / 1000;
  return { perSecond: i / elapsed, count: i, seconds: elapsed };
}

let koruMode: KoruMode | undefined;
/** What KoruDelta's `stats().adapter` says it stores in (OPFS or IndexedDB in a browser). */
let koruAdapter: string | undefined;

/**
 * A KoruDelta database named `name`: persistent when this build takes a `path` in the
 * browser, else the in-memory build (which refuses a path with UNSUPPORTED). The mode is
 * reported with every row.
 */
async function openKoru(name: string): Promise<KoruDelta> {
  try {
    const db = await KoruDelta.start({ path: name });
    koruMode = 'persistent';
    return db;
  } catch (e) {
    if ((e as { code?: string }).code !== 'UNSUPPORTED') throw e;
    koruMode = 'memory';
    return KoruDelta.start();
  }
}

function openDexie(name: string): Dexie & { docs: Table<DexieDoc, string>; versions: Table<DexieVersion, [string, number]> } {
  const db = new Dexie(name) as Dexie & { docs: Table<DexieDoc, string>; versions: Table<DexieVersion, [string, number]> };
  // `versions` is a versioned table (one row per version, like the Node bench's sqlite
  // schema): what Dexie needs to keep a history at all.
  db.version(1).stores({ docs: 'id', versions: '[key+v]' });
  return db;
}

/** KoruDelta `close()` calls that did not resolve within CLOSE_WAIT_MS (reported by the runner). */
let closeHangs = 0;
const CLOSE_WAIT_MS = 10_000;

/**
 * Closes a KoruDelta database, waiting at most CLOSE_WAIT_MS: a close that never resolves
 * (seen on persistent browser databases after a few thousand batched writes) is counted
 * and reported, not waited for, so the remaining rows still run.
 */
async function closeKoru(db: KoruDelta): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([db.close().then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS)))]);
  clearTimeout(timer);
  if (!closed) closeHangs++;
}

/** A unique database name per call, so no run reads another's data. */
let counter = 0;
const fresh = (what: string): string => `bench-${what}-${Date.now()}-${counter++}`;

/** Single awaited put, each to a new key. */
async function putSingle(subject: Subject, seconds: number): Promise<Rate> {
  const name = fresh('put');
  if (subject === 'koru') {
    const db = await openKoru(name);
    koruAdapter ??= (await db.stats()).adapter;
    await timedLoop(0.2, (i) => db.put('warm', `w${i}`, doc(i, 0)));
    const rate = await timedLoop(seconds, (i) => db.put('bench', `k${i}`, doc(i, 0)));
    await closeKoru(db);
    return rate;
  }
  if (subject === 'dexie') {
    const db = openDexie(name);
    await db.open();
    await timedLoop(0.2, (i) => db.docs.put({ id: `w${i}`, ...doc(i, 0) }));
    const rate = await timedLoop(seconds, (i) => db.docs.put({ id: `k${i}`, ...doc(i, 0) }));
    db.close();
    return rate;
  }
  const db = new PouchDB(name);
  await timedLoop(0.2, (i) => db.put({ _id: `w${i}`, ...doc(i, 0) }));
  const rate = await timedLoop(seconds, (i) => db.put({ _id: `k${i}`, ...doc(i, 0) }));
  await db.close();
  return rate;
}

/** Batched put of `batch` new keys a call (putMany / bulkPut / bulkDocs); items per second. */
async function putBatch(subject: Subject, batch: number, seconds: number): Promise<Rate> {
  const name = fresh('batch');
  const items = (round: number) => Array.from({ length: batch }, (_, j) => ({ i: round * batch + j }));
  if (subject === 'koru') {
    const db = await openKoru(name);
    const rate = await timedLoop(seconds, (r) => db.putMany(items(r).map(({ i }) => ({ namespace: 'bench', key: `k${i}`, value: doc(i, 0) }))), batch);
    await closeKoru(db);
    return rate;
  }
  if (subject === 'dexie') {
    const db = openDexie(name);
    await db.open();
    const rate = await timedLoop(seconds, (r) => db.docs.bulkPut(items(r).map(({ i }) => ({ id: `k${i}`, ...doc(i, 0) }))), batch);
    db.close();
    return rate;
  }
  const db = new PouchDB(name);
  const rate = await timedLoop(seconds, (r) => db.bulkDocs(items(r).map(({ i }) => ({ _id: `k${i}`, ...doc(i, 0) }))), batch);
  await db.close();
  return rate;
}

/** Get of one key read just before (cached by the store if it caches), awaited each time. */
async function getCached(subject: Subject, seconds: number): Promise<Rate & { readonly checked: boolean }> {
  const name = fresh('get');
  if (subject === 'koru') {
    const db = await openKoru(name);
    for (let i = 0; i < 100; i++) await db.put('bench', `k${i}`, doc(i, 0));
    const first = (await db.get('bench', 'k42')) as Doc;
    const rate = await fastLoop(seconds, () => db.get('bench', 'k42'));
    await closeKoru(db);
    return { ...rate, checked: first.name === 'user-42' };
  }
  if (subject === 'dexie') {
    const db = openDexie(name);
    await db.open();
    await db.docs.bulkPut(Array.from({ length: 100 }, (_, i) => ({ id: `k${i}`, ...doc(i, 0) })));
    const first = await db.docs.get('k42');
    const rate = await fastLoop(seconds, () => db.docs.get('k42'));
    db.close();
    return { ...rate, checked: first?.name === 'user-42' };
  }
  const db = new PouchDB(name);
  await db.bulkDocs(Array.from({ length: 100 }, (_, i) => ({ _id: `k${i}`, ...doc(i, 0) })));
  const first = (await db.get('k42')) as unknown as Doc;
  const rate = await fastLoop(seconds, () => db.get('k42'));
  await db.close();
  return { ...rate, checked: first.name === 'user-42' };
}

/**
 * Writes `keys` × `versions` versions (all keys at v, then v + 1) into a database named
 * `name` and closes it, for a later openFirstGet in a fresh page.
 */
async function fill(subject: Subject, name: string, keys: number, versions: number): Promise<{ readonly seconds: number }> {
  const t0 = performance.now();
  const BATCH = 1000;
  if (subject === 'koru') {
    const db = await openKoru(name);
    for (let v = 0; v < versions; v++) {
      for (let s = 0; s < keys; s += BATCH) {
        const items = [];
        for (let i = s; i < Math.min(keys, s + BATCH); i++) items.push({ namespace: 'bench', key: `k${i}`, value: doc(i, v) });
        await db.putMany(items);
      }
    }
    await closeKoru(db);
  } else if (subject === 'dexie') {
    const db = openDexie(name);
    await db.open();
    for (let v = 0; v < versions; v++) {
      for (let s = 0; s < keys; s += BATCH) {
        const rows = [];
        for (let i = s; i < Math.min(keys, s + BATCH); i++) rows.push({ key: `k${i}`, ...doc(i, v) });
        await db.versions.bulkPut(rows);
      }
    }
    db.close();
  } else {
    // PouchDB keeps every revision of a document: version v + 1 names its parent revision.
    const db = new PouchDB(name);
    const revs = new Map<string, string>();
    for (let v = 0; v < versions; v++) {
      for (let s = 0; s < keys; s += BATCH) {
        const docs = [];
        for (let i = s; i < Math.min(keys, s + BATCH); i++) {
          const id = `k${i}`;
          const rev = revs.get(id);
          docs.push({ _id: id, ...(rev !== undefined ? { _rev: rev } : {}), ...doc(i, v) });
        }
        const results = await db.bulkDocs(docs);
        for (const r of results) if ('rev' in r && r.ok) revs.set(r.id, r.rev);
      }
    }
    await db.close();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

/**
 * Opens the database `name` (filled by `fill` in another page) and reads the current
 * version of one key: the time a reloaded app waits before it can show data.
 */
async function openFirstGet(subject: Subject, name: string, key: string): Promise<{ readonly ms: number; readonly openMs?: number; readonly v: number | undefined }> {
  const t0 = performance.now();
  let value: Doc | undefined;
  if (subject === 'koru') {
    const db = await openKoru(name);
    const openMs = performance.now() - t0;
    value = (await db.get('bench', key)) as Doc;
    const ms = performance.now() - t0;
    await closeKoru(db);
    return { ms, openMs, v: value.v };
  }
  if (subject === 'dexie') {
    const db = openDexie(name);
    await db.open();
    value = await db.versions.where('[key+v]').between([key, Dexie.minKey], [key, Dexie.maxKey]).last();
    const ms = performance.now() - t0;
    db.close();
    return { ms, v: value?.v };
  }
  const db = new PouchDB(name);
  value = (await db.get(key)) as unknown as Doc;
  const ms = performance.now() - t0;
  await db.close();
  return { ms, v: value.v };
}

/**
 * Server→browser change latency: this page syncs namespace `bench` from `url`; the
 * runner writes there from Node, each value carrying its send time
 * (`performance.timeOrigin + performance.now()` in Node, the same wall clock). Each
 * arrival is timed against it here. Resolves after `count` changes or `timeoutMs`.
 * `persistent`: on the database `start({ path })` opens (else an in-memory one).
 */
async function syncLatency(url: string, token: string, count: number, timeoutMs: number, persistent: boolean): Promise<{ readonly latenciesMs: number[]; readonly mode: KoruMode | undefined }> {
  const db = persistent ? await openKoru(fresh('sync')) : await KoruDelta.start();
  const state = globalThis as { koruSyncWarm?: boolean };
  state.koruSyncWarm = false;
  const latenciesMs: number[] = [];
  let finish = (): void => {};
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    finish = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const sub = db.subscribe({ namespace: 'bench' }, (e) => {
    // The runner writes untimed values until the first one arrives (the link is up).
    state.koruSyncWarm = true;
    if (!('value' in e)) return;
    const sentAt = (e.value as { sentAt?: number } | null)?.sentAt;
    if (typeof sentAt !== 'number') return;
    latenciesMs.push(performance.timeOrigin + performance.now() - sentAt);
    if (latenciesMs.length >= count) finish();
  });
  let handle: Awaited<ReturnType<KoruDelta['sync']>>;
  try {
    handle = await db.sync(url, { token, namespaces: ['bench'] });
  } catch (e) {
    sub.unsubscribe();
    await db.close();
    throw new Error(`db.sync failed: ${String(e)}`);
  }
  await done;
  sub.unsubscribe();
  await handle.stop();
  await closeKoru(db);
  return { latenciesMs, mode: persistent ? koruMode : 'memory' };
}

const api = { isolated: () => globalThis.crossOriginIsolated, putSingle, putBatch, getCached, fill, openFirstGet, syncLatency, mode: () => koruMode, adapter: () => koruAdapter, closeHangs: () => closeHangs, dexieVersion: Dexie.semVer, pouchVersion: (PouchDB as unknown as { version: string }).version };
/** What the runner calls. */
export type PageApi = typeof api;
(globalThis as unknown as { koruBench: PageApi }).koruBench = api;
