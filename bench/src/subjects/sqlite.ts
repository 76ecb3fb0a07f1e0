/**
 * better-sqlite3 with a versioned-table schema: every put inserts a row into `versions`
 * and upserts `current` in one transaction. WAL journal, prepared statements;
 * durability classes are `synchronous = NORMAL` (default) and `FULL` (always).
 */
import { join } from 'node:path';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import type { Durability, Subject, VersionedStore } from '../subject.js';
import type { Entry } from '../workload.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS versions(ns TEXT, key TEXT, seq INTEGER, ts INTEGER, doc TEXT, PRIMARY KEY(ns, key, seq));
CREATE TABLE IF NOT EXISTS current(ns TEXT, key TEXT, doc TEXT, PRIMARY KEY(ns, key));
`;

/** File name of the database inside the bench directory. */
export const SQLITE_FILE = 'bench.sqlite';

function libraryVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require('better-sqlite3/package.json') as { version: string };
    const db = new Database(':memory:');
    const engine = db.prepare('SELECT sqlite_version()').pluck().get() as string;
    db.close();
    return `better-sqlite3 ${pkg.version}, SQLite ${engine}`;
  } catch {
    return 'better-sqlite3 (version unknown)';
  }
}

class SqliteStore implements VersionedStore {
  readonly #db: Database.Database;
  readonly #write: (namespace: string, key: string, ts: number, doc: string) => void;
  readonly #writeBatch: (entries: readonly Entry[]) => void;
  readonly #get: Database.Statement<[string, string], string>;
  readonly #history: Database.Statement<[string, string], string>;
  readonly #getAt: Database.Statement<[string, string, number], string>;

  constructor(db: Database.Database) {
    this.#db = db;
    // seq is the key's next version number, found through the primary-key index (O(log n)).
    const insertVersion = db.prepare<[string, string, number, string, string, string]>(
      'INSERT INTO versions(ns, key, seq, ts, doc) SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM versions WHERE ns = ? AND key = ?',
    );
    const upsertCurrent = db.prepare<[string, string, string]>(
      'INSERT INTO current(ns, key, doc) VALUES (?, ?, ?) ON CONFLICT(ns, key) DO UPDATE SET doc = excluded.doc',
    );
    const writeOne = (namespace: string, key: string, ts: number, doc: string): void => {
      insertVersion.run(namespace, key, ts, doc, namespace, key);
      upsertCurrent.run(namespace, key, doc);
    };
    this.#write = db.transaction(writeOne);
    this.#writeBatch = db.transaction((entries: readonly Entry[]) => {
      const ts = Date.now();
      for (const e of entries) writeOne(e.namespace, e.key, ts, JSON.stringify(e.value));
    });
    this.#get = db.prepare<[string, string], string>('SELECT doc FROM current WHERE ns = ? AND key = ?').pluck();
    this.#history = db.prepare<[string, string], string>('SELECT doc FROM versions WHERE ns = ? AND key = ? ORDER BY seq').pluck();
    this.#getAt = db
      .prepare<[string, string, number], string>(
        'SELECT doc FROM versions WHERE ns = ? AND key = ? AND ts <= ? ORDER BY seq DESC LIMIT 1',
      )
      .pluck();
  }

  put(namespace: string, key: string, value: object): void {
    this.#write(namespace, key, Date.now(), JSON.stringify(value));
  }

  putBatch(entries: readonly Entry[]): void {
    this.#writeBatch(entries);
  }

  get(namespace: string, key: string): unknown {
    const doc = this.#get.get(namespace, key);
    return doc === undefined ? undefined : JSON.parse(doc);
  }

  history(namespace: string, key: string): readonly unknown[] {
    const docs = this.#history.all(namespace, key);
    const out = new Array<unknown>(docs.length);
    for (let i = 0; i < docs.length; i++) out[i] = JSON.parse(docs[i]!);
    return out;
  }

  getAt(namespace: string, key: string, when: number): unknown {
    const doc = this.#getAt.get(namespace, key, when);
    return doc === undefined ? undefined : JSON.parse(doc);
  }

  itemValue(item: unknown): unknown {
    return item;
  }

  async stats(): Promise<Record<string, unknown>> {
    const count = (sql: string): number => this.#db.prepare(sql).pluck().get() as number;
    return { keys: count('SELECT COUNT(*) FROM current'), versions: count('SELECT COUNT(*) FROM versions') };
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/** better-sqlite3: WAL with synchronous NORMAL (default) or FULL (always); no in-memory mode here. */
export const sqliteSubject: Subject = {
  id: 'sqlite',
  label: 'better-sqlite3',
  version: libraryVersion(),
  supports: (durability) => durability !== 'memory',
  describe: (durability) => `WAL, synchronous=${durability === 'always' ? 'FULL' : 'NORMAL'}`,
  async open(dir: string, durability: Durability): Promise<VersionedStore> {
    const db = new Database(join(dir, SQLITE_FILE));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durability === 'always' ? 'FULL' : 'NORMAL'}`);
    db.exec(SCHEMA);
    return new SqliteStore(db);
  },
};
