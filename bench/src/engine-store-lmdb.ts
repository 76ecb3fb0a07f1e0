/**
 * lmdb (lmdb-js) with binary keys and values: a copy-on-write B-tree in a memory map,
 * default options (its own write thread; `overlappingSync`, so a commit is synced after
 * it becomes visible). A batch is one transaction (`db.batch`); a durable put awaits the
 * write and then `db.flushed` (the commit synced to disk).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { open, type Database } from 'lmdb';
import { BufferKeys, makeValue, nextScanned, type Shape } from './engine-workload.js';
import type { EngineStore, KeyBuilder, OpenMode } from './engine-store.js';

/** lmdb-js's version (its package.json is not exported: read beside its entry). */
export function libraryVersion(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('lmdb'));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'lmdb') return `lmdb-js ${pkg.version}`;
    } catch {
      // not here: one level up
    }
    dir = dirname(dir);
  }
  return 'lmdb-js (version unknown)';
}

class LmdbKv implements EngineStore<Buffer> {
  readonly description: string;
  readonly #db: Database<Buffer, Buffer>;
  readonly #keys: BufferKeys;
  readonly #durable: boolean;

  constructor(dir: string, mode: OpenMode, keys: BufferKeys) {
    this.#db = open<Buffer, Buffer>({ path: join(dir, 'db'), encoding: 'binary', keyEncoding: 'binary' });
    this.#durable = mode === 'durable';
    this.description = `binary keys and values, default options${this.#durable ? '; each put awaited, then db.flushed' : ''}`;
    this.#keys = keys;
  }

  key(name: number, round: number): Buffer {
    return this.#keys.key(name, round);
  }

  async writeBatch(round: number, from: number, to: number): Promise<void> {
    await this.#db.batch(() => {
      for (let i = from; i < to; i++) void this.#db.put(this.#keys.key(i, round), makeValue(i, round));
    });
    if (this.#durable) await this.#db.flushed;
  }

  async putOne(name: number, round: number): Promise<void> {
    await this.#db.put(this.#keys.key(name, round), makeValue(name, round));
    if (this.#durable) await this.#db.flushed;
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.#db.get(key);
  }

  scan(name: number): number {
    let n = 0;
    let round = -1;
    for (const { value } of this.#db.getRange({ start: this.#keys.prefix(name), end: this.#keys.prefixEnd(name) })) {
      round = nextScanned(value, name, round);
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

/** This store's keys. */
export function makeKeys(shape: Shape): KeyBuilder {
  return new BufferKeys(shape);
}

/** Opens (or creates) the store in `dir`. */
export async function openStore(dir: string, mode: OpenMode, keys: KeyBuilder): Promise<EngineStore> {
  if (!(keys instanceof BufferKeys)) throw new Error('openStore: the keys must come from this module\'s makeKeys');
  return new LmdbKv(dir, mode, keys) as EngineStore;
}
