/**
 * LokiJS: an in-memory document database with MongoDB-style finds and binary indexes.
 * It keeps no version history, so it takes part in the query rows only; its subject
 * supports no durability class and the versioned-store sections skip it.
 */
import { createRequire } from 'node:module';
import Loki from 'lokijs';
import type { QueryPeer, UserCollection } from '../query-peer.js';
import type { Subject, VersionedStore } from '../subject.js';
import { USERS, type User, type UserDoc } from '../users.js';

function lokiVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return `lokijs ${(require('lokijs/package.json') as { version: string }).version}`;
  } catch {
    return 'lokijs (version unknown)';
  }
}

/** Loki adds `$loki` and `meta` to the documents it holds. */
type LokiUser = UserDoc & LokiObj;

class LokiUsers implements UserCollection {
  readonly #db: Loki;
  readonly #coll: Collection<UserDoc>;

  constructor(db: Loki, coll: Collection<UserDoc>) {
    this.#db = db;
    this.#coll = coll;
  }

  topByName(minAge: number, limit: number): readonly LokiUser[] {
    return this.#coll.chain().find({ age: { $gt: minAge } }).simplesort('name').limit(limit).data();
  }

  countCity(city: string): number {
    return this.#coll.count({ city });
  }

  byEmail(email: string): readonly LokiUser[] {
    return this.#coll.find({ email });
  }

  async checkEmailScan(_sample: string): Promise<string> {
    if (Object.keys(this.#coll.binaryIndices).length > 0) throw new Error(`expected no index, the collection has ${Object.keys(this.#coll.binaryIndices).join(', ')}`);
    return 'no binary index: find() tests every document';
  }

  async indexEmail(sample: string): Promise<string> {
    const t0 = performance.now();
    this.#coll.ensureIndex('email');
    const ms = performance.now() - t0;
    const index = this.#coll.binaryIndices.email;
    if (index === undefined || index.dirty || !this.#coll.checkIndex('email') || this.#coll.find({ email: sample }).length !== 1) {
      throw new Error('the binary index on email is missing, dirty or wrong');
    }
    return `ensureIndex('email') (the index \`indices: ['email']\` declares) took ${ms.toFixed(0)} ms; checkIndex('email') ok`;
  }

  async close(): Promise<void> {
    this.#db.removeCollection(USERS);
    this.#db.close();
  }
}

/** LokiJS in memory: one collection with default options (clone: false, meta kept, adaptive binary indices). */
export const lokiQueryPeer: QueryPeer = {
  storage: "new Loki() in memory (no persistence adapter), addCollection('users') with default options (clone: false), one insert(array) of copies per 10,000",
  calls: {
    top: "coll.chain().find({ age: { $gt: 30 } }).simplesort('name').limit(10).data()",
    count: 'coll.count({ city })',
    email: 'coll.find({ email })',
  },
  async load(users: readonly User[]): Promise<UserCollection> {
    const db = new Loki('bench.db');
    const coll = db.addCollection<UserDoc>(USERS);
    // Copies: Loki writes `$loki` and `meta` into the objects it holds.
    for (let i = 0; i < users.length; i += 10_000) coll.insert(users.slice(i, i + 10_000).map((u) => ({ ...u.doc })));
    return new LokiUsers(db, coll);
  },
};

/** LokiJS holds no history: no durability class, measured in the query rows only. */
export const lokiSubject: Subject = {
  id: 'loki',
  label: 'LokiJS',
  version: lokiVersion(),
  supports: () => false,
  describe: () => 'in memory, query rows only',
  open(): Promise<VersionedStore> {
    return Promise.reject(new Error('LokiJS keeps no history: it has no versioned store'));
  },
};
