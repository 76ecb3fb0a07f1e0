/**
 * better-sqlite3 as an ordered key/value store: one `WITHOUT ROWID` table keyed by the
 * key's bytes (a B-tree clustered on the key, as an LSM's sorted runs are), WAL journal,
 * default page cache. `load`: synchronous=NORMAL (the WAL synced at checkpoints);
 * `durable`: synchronous=FULL (the WAL synced at every commit).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BufferKeys, makeValue, nextScanned, type Shape } from './engine-workload.js';
import type { EngineStore, KeyBuilder, OpenMode } from './engine-store.js';

/** The database file inside the store's directory. */
const FILE = 'kv.sqlite';

/** better-sqlite3 and SQLite versions. */
export function libraryVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = require('better-sqlite3/package.json') as { version: string };
  const db = new Database(':memory:');
  const engine = db.prepare('SELECT sqlite_version()').pluck().get() as string;
  db.close();
  return `better-sqlite3 ${pkg.version} (SQLite ${engine})`;
}

class SqliteKv implements EngineStore<Buffer> {
  readonly description: string;
  readonly #db: Database.Database;
  readonly #keys: BufferKeys;
  readonly #insert: Database.Statement<[Buffer, Buffer]>;
  readonly #batch: (round: number, from: number, to: number) => void;
  readonly #get: Database.Statement<[Buffer], Buffer>;
  readonly #scan: Database.Statement<[Buffer, Buffer], Buffer[]>;

  constructor(dir: string, mode: OpenMode, keys: BufferKeys) {
    this.#db = new Database(join(dir, FILE));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${mode === 'durable' ? 'FULL' : 'NORMAL'}`);
    this.#db.exec('CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID');
    this.description = `WITHOUT ROWID table, WAL, synchronous=${mode === 'durable' ? 'FULL' : 'NORMAL'}, default page cache`;
    this.#keys = keys;
    this.#insert = this.#db.prepare('INSERT INTO kv(k, v) VALUES (?, ?)');
    this.#batch = this.#db.transaction((round: number, from: number, to: number) => {
      for (let i = from; i < to; i++) this.#insert.run(this.#keys.key(i, round), makeValue(i, round));
    });
    this.#get = this.#db.prepare<[Buffer], Buffer>('SELECT v FROM kv WHERE k = ?').pluck();
    this.#scan = this.#db.prepare<[Buffer, Buffer], Buffer[]>('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k').raw();
  }

  key(name: number, round: number): Buffer {
    return this.#keys.key(name, round);
  }

  writeBatch(round: number, from: number, to: number): void {
    this.#batch(round, from, to);
  }

  putOne(name: number, round: number): void {
    this.#insert.run(this.#keys.key(name, round), makeValue(name, round));
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.#get.get(key);
  }

  scan(name: number): number {
    let n = 0;
    let round = -1;
    for (const row of this.#scan.iterate(this.#keys.prefix(name), this.#keys.prefixEnd(name))) {
      round = nextScanned(row[1]!, name, round);
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/** This store's keys. */
export function makeKeys(shape: Shape): KeyBuilder {
  return new BufferKeys(shape);
}

/** Opens (or creates) the store in `dir`. */
export async function openStore(dir: string, mode: OpenMode, keys: KeyBuilder): Promise<EngineStore> {
  if (!(keys instanceof BufferKeys)) throw new Error('openStore: the keys must come from this module\'s makeKeys');
  return new SqliteKv(dir, mode, keys) as EngineStore;
}
