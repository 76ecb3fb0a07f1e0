/**
 * KoruDelta's storage engine on its own: the LsmTree over a NodeDirectory, flushes and
 * merges each in a worker thread of its own (WorkerMergeRunner), default memtable
 * (8 MiB) and block cache (16 MiB), Bloom filters on the name prefix (`filterKeyParts: 2`,
 * as the version store will set them). `load`: sync 'periodic'; `durable`: sync 'always'.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { KIND_PUT, LsmTree, NodeDirectory, WorkerMergeRunner } from '@koru/storage/node';
import { StringKeys, makeValue, nextScanned, type Shape } from './engine-workload.js';
import type { EngineStore, KeyBuilder, OpenMode } from './engine-store.js';

/** Filter key = key through its 2nd terminator: the namespace and the name. */
const FILTER_KEY_PARTS = 2;

/** @koru/storage's version. */
export function libraryVersion(): string {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@koru/storage/node');
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return `@koru/storage ${pkg.version} (LsmTree)`;
}

/** One written entry, as LsmTree.write takes it. */
interface PutEntry {
  readonly key: string;
  readonly kind: typeof KIND_PUT;
  readonly value: Uint8Array;
}

class KoruKv implements EngineStore<string> {
  readonly description: string;
  /** The tree itself, for the compaction phase. */
  readonly tree: LsmTree;
  readonly #keys: StringKeys;
  readonly #runners: WorkerMergeRunner[];
  /** The first background failure, and a promise that rejects with it (for waiting writers). */
  #failure: unknown;
  readonly #failed: { promise: Promise<never>; reject?: (e: unknown) => void } = { promise: new Promise<never>(() => {}) };

  constructor(dir: string, mode: OpenMode, keys: StringKeys) {
    this.#failed.promise = new Promise<never>((_, reject) => (this.#failed.reject = reject));
    this.#failed.promise.catch(() => {}); // read by whoever writes next
    const flushRunner = new WorkerMergeRunner(dir);
    const mergeRunner = new WorkerMergeRunner(dir);
    this.#runners = [flushRunner, mergeRunner];
    const sync = mode === 'durable' ? 'always' : 'periodic';
    this.tree = LsmTree.open({
      dir: new NodeDirectory(dir),
      flushRunner,
      mergeRunner,
      sync,
      writer: { filterKeyParts: FILTER_KEY_PARTS },
      onBackgroundError: (e) => {
        // The tree retries a failed flush or merge; a bench must stop instead (a writer
        // waiting in writable() would wait for ever).
        this.#failure ??= e;
        this.#failed.reject?.(e);
      },
    });
    this.description = `NodeDirectory, WorkerMergeRunner for flushes and for merges, sync '${sync}', default memtable and block cache, filterKeyParts ${FILTER_KEY_PARTS}`;
    this.#keys = keys;
  }

  key(name: number, round: number): string {
    return this.#keys.key(name, round);
  }

  writeBatch(round: number, from: number, to: number): void | Promise<void> {
    const entries = new Array<PutEntry>(to - from);
    for (let i = from; i < to; i++) entries[i - from] = { key: this.#keys.key(i, round), kind: KIND_PUT, value: makeValue(i, round) };
    this.#check();
    this.tree.write(entries);
    // Back-pressure: wait when flushes fall behind, as a writer must.
    const w = this.tree.writable();
    return w === undefined ? undefined : Promise.race([w, this.#failed.promise]);
  }

  putOne(name: number, round: number): void {
    this.#check();
    this.tree.put(this.#keys.key(name, round), makeValue(name, round));
  }

  get(key: string): Uint8Array | undefined {
    return this.tree.get(key);
  }

  scan(name: number): number {
    const prefix = this.#keys.prefix(name);
    const c = this.tree.cursor({ filterKey: prefix });
    let n = 0;
    let round = -1;
    try {
      for (c.seek(prefix); c.valid(); c.next()) {
        if (!c.key().startsWith(prefix)) break;
        round = nextScanned(c.value(), name, round);
        n++;
      }
    } finally {
      c.close();
    }
    return n;
  }

  /** Throws the first background failure. */
  #check(): void {
    if (this.#failure !== undefined) throw new Error(`LsmTree background work failed: ${this.#failure instanceof Error ? (this.#failure.stack ?? this.#failure.message) : String(this.#failure)}`);
  }

  async close(): Promise<void> {
    try {
      this.#check();
      await this.tree.close();
    } finally {
      await Promise.all(this.#runners.map((r) => r.close()));
    }
  }
}

/** This store's keys. */
export function makeKeys(shape: Shape): KeyBuilder {
  return new StringKeys(shape);
}

/** Opens (or creates) the tree in `dir` (which must exist). */
export async function openStore(dir: string, mode: OpenMode, keys: KeyBuilder): Promise<EngineStore> {
  if (!(keys instanceof StringKeys)) throw new Error('openStore: the keys must come from this module\'s makeKeys');
  return new KoruKv(dir, mode, keys) as EngineStore;
}

/** The LsmTree of a store opened here (for the compaction phase). */
export function treeOf(store: EngineStore): LsmTree {
  if (!(store instanceof KoruKv)) throw new Error('not a KoruDelta engine store');
  return store.tree;
}
