/**
 * better-sqlite3 as a document store: one table of documents as TEXT JSON, queried with
 * json_extract, in memory (`:memory:`, so no page ever comes from the file system).
 * Rows are parsed with JSON.parse, as an application would.
 */
import Database from 'better-sqlite3';
import type { QueryPeer, UserCollection } from '../query-peer.js';
import { USERS, type User, type UserDoc } from '../users.js';

const LOAD_BATCH = 10_000;
const EMAIL_INDEX = `CREATE INDEX ${USERS}_email ON ${USERS}(json_extract(doc, '$.email'))`;

function parseAll(docs: readonly string[]): UserDoc[] {
  const out = new Array<UserDoc>(docs.length);
  for (let i = 0; i < docs.length; i++) out[i] = JSON.parse(docs[i]!) as UserDoc;
  return out;
}

class SqliteUsers implements UserCollection {
  readonly #db: Database.Database;
  readonly #top: Database.Statement<[number, number], string>;
  readonly #count: Database.Statement<[string], number>;
  #email: Database.Statement<[string], string>;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#top = db
      .prepare<[number, number], string>(`SELECT doc FROM ${USERS} WHERE json_extract(doc, '$.age') > ? ORDER BY json_extract(doc, '$.name') LIMIT ?`)
      .pluck();
    this.#count = db.prepare<[string], number>(`SELECT COUNT(*) FROM ${USERS} WHERE json_extract(doc, '$.city') = ?`).pluck();
    this.#email = this.#prepareEmail();
  }

  #prepareEmail(): Database.Statement<[string], string> {
    return this.#db.prepare<[string], string>(`SELECT doc FROM ${USERS} WHERE json_extract(doc, '$.email') = ?`).pluck();
  }

  #plan(email: string): string {
    const rows = this.#db.prepare(`EXPLAIN QUERY PLAN SELECT doc FROM ${USERS} WHERE json_extract(doc, '$.email') = ?`).all(email) as { detail: string }[];
    return rows.map((r) => r.detail).join('; ');
  }

  topByName(minAge: number, limit: number): readonly UserDoc[] {
    return parseAll(this.#top.all(minAge, limit));
  }

  countCity(city: string): number {
    return this.#count.get(city)!;
  }

  byEmail(email: string): readonly UserDoc[] {
    return parseAll(this.#email.all(email));
  }

  async checkEmailScan(sample: string): Promise<string> {
    const plan = this.#plan(sample);
    if (!/^SCAN /.test(plan)) throw new Error(`expected a table scan before the index, the plan is ${plan}`);
    return `plan: ${plan}`;
  }

  async indexEmail(sample: string): Promise<string> {
    const t0 = performance.now();
    this.#db.exec(EMAIL_INDEX);
    const ms = performance.now() - t0;
    this.#email = this.#prepareEmail();
    const plan = this.#plan(sample);
    if (!plan.includes(`USING INDEX ${USERS}_email`)) throw new Error(`the email query does not use the expression index: ${plan}`);
    return `${EMAIL_INDEX} took ${ms.toFixed(0)} ms; plan: ${plan}`;
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/** better-sqlite3 in memory, one `(key TEXT PRIMARY KEY, doc TEXT)` table. */
export const sqliteQueryPeer: QueryPeer = {
  storage: `':memory:' table ${USERS}(key TEXT PRIMARY KEY, doc TEXT) holding JSON.stringify(doc), one transaction per ${LOAD_BATCH.toLocaleString('en-US')} inserts; prepared statements, rows JSON.parse'd`,
  calls: {
    top: "SELECT doc ... WHERE json_extract(doc, '$.age') > 30 ORDER BY json_extract(doc, '$.name') LIMIT 10",
    count: "SELECT COUNT(*) ... WHERE json_extract(doc, '$.city') = ?",
    email: "SELECT doc ... WHERE json_extract(doc, '$.email') = ?",
  },
  async load(users: readonly User[]): Promise<UserCollection> {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE ${USERS}(key TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
    const insert = db.prepare<[string, string]>(`INSERT INTO ${USERS}(key, doc) VALUES (?, ?)`);
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) insert.run(users[i]!.key, JSON.stringify(users[i]!.doc));
    });
    for (let i = 0; i < users.length; i += LOAD_BATCH) batch(i, Math.min(users.length, i + LOAD_BATCH));
    return new SqliteUsers(db);
  },
};
