/**
 * The query rows' interface: a collection of user documents loaded into one subject,
 * queried the subject's own way. Implementations are imported on demand, like subjects.
 */
import type { MaybePromise, SubjectId } from './subject.js';
import type { User, UserDoc } from './users.js';

/** Users loaded into one store, in memory. */
export interface UserCollection {
  /** Users with `age > minAge`, sorted by name, the first `limit`: their documents. */
  topByName(minAge: number, limit: number): MaybePromise<readonly UserDoc[]>;
  /** How many users have `city == city` (no index on city). */
  countCity(city: string): MaybePromise<number>;
  /** Users with `email == email`: their documents (through the index once `indexEmail` ran). */
  byEmail(email: string): MaybePromise<readonly UserDoc[]>;
  /**
   * Builds the subject's index on `email`, then checks that `byEmail(sample)` uses it
   * (throws otherwise). Returns what was built and how long it took, for the notes.
   */
  indexEmail(sample: string): Promise<string>;
  /** How `byEmail(sample)` runs before `indexEmail`: a scan (throws when it would not be one). */
  checkEmailScan(sample: string): Promise<string>;
  close(): Promise<void>;
}

/** How a subject stores and queries the users, and how to load them. */
export interface QueryPeer {
  /** Storage of the documents, for the notes. */
  readonly storage: string;
  /** Each query as this subject writes it, for the notes. */
  readonly calls: {
    readonly top: string;
    readonly count: string;
    readonly email: string;
  };
  /** A fresh in-memory store holding `users` (loaded in batches). */
  load(users: readonly User[]): Promise<UserCollection>;
}

/** The subject's query peer, or undefined when it takes no part in the query rows. */
export async function loadQueryPeer(id: SubjectId): Promise<QueryPeer | undefined> {
  switch (id) {
    case 'koru':
      return (await import('./subjects/koru-query.js')).koruQueryPeer;
    case 'sqlite':
      return (await import('./subjects/sqlite-query.js')).sqliteQueryPeer;
    case 'loki':
      return (await import('./subjects/loki.js')).lokiQueryPeer;
    case 'map':
      return undefined;
  }
}
