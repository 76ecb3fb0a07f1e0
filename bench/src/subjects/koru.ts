/**
 * KoruDelta, through its public embedded API only (`@koru/delta`, DESIGN §4). Every
 * call is awaited as an application would await it.
 */
import { createRequire } from 'node:module';
import { KoruDelta } from '@koru/delta';
import type { Durability, Subject, VersionedStore } from '../subject.js';
import type { Entry } from '../workload.js';

function deltaVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('@koru/delta/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

class KoruStore implements VersionedStore {
  readonly #db: KoruDelta;

  constructor(db: KoruDelta) {
    this.#db = db;
  }

  put(namespace: string, key: string, value: object): Promise<unknown> {
    return this.#db.put(namespace, key, value);
  }

  putBatch(entries: readonly Entry[]): Promise<unknown> {
    return this.#db.putMany(entries);
  }

  get(namespace: string, key: string): Promise<unknown> {
    return this.#db.get(namespace, key);
  }

  history(namespace: string, key: string): Promise<readonly unknown[]> {
    return this.#db.history(namespace, key);
  }

  getAt(namespace: string, key: string, when: number): Promise<unknown> {
    return this.#db.getAt(namespace, key, when);
  }

  itemValue(item: unknown): unknown {
    return (item as { readonly value: unknown }).value;
  }

  compact(): Promise<void> {
    return this.#db.compact();
  }

  async stats(): Promise<Record<string, unknown>> {
    return { ...(await this.#db.stats()) };
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

/** KoruDelta: memory (`start()`), default periodic (`start({ path })`), always (`sync: 'always'`). */
export const koruSubject: Subject = {
  id: 'koru',
  label: 'KoruDelta',
  version: `@koru/delta ${deltaVersion()}`,
  supports: () => true,
  describe(durability: Durability): string {
    switch (durability) {
      case 'memory':
        return 'start()';
      case 'default':
        return "start({ path }): sync 'periodic'";
      case 'always':
        return "start({ path, sync: 'always' })";
    }
  },
  async open(dir: string, durability: Durability): Promise<VersionedStore> {
    switch (durability) {
      case 'memory':
        return new KoruStore(await KoruDelta.start());
      case 'default':
        return new KoruStore(await KoruDelta.start({ path: dir }));
      case 'always':
        return new KoruStore(await KoruDelta.start({ path: dir, sync: 'always' }));
    }
  },
};
