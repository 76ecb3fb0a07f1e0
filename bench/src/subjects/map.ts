/**
 * The in-process ceiling: a plain `Map<string, Record[]>` per namespace. put pushes,
 * get reads the last record, history hands out the array, getAt binary-searches `ts`.
 * Nothing is copied, hashed, validated or written anywhere.
 */
import type { Durability, Subject, VersionedStore } from '../subject.js';
import type { Entry } from '../workload.js';

interface MapRecord {
  readonly ts: number;
  readonly doc: object;
}

class MapStore implements VersionedStore {
  readonly #namespaces = new Map<string, Map<string, MapRecord[]>>();

  #keys(namespace: string): Map<string, MapRecord[]> {
    let keys = this.#namespaces.get(namespace);
    if (keys === undefined) {
      keys = new Map();
      this.#namespaces.set(namespace, keys);
    }
    return keys;
  }

  #push(keys: Map<string, MapRecord[]>, key: string, ts: number, doc: object): void {
    const records = keys.get(key);
    if (records === undefined) keys.set(key, [{ ts, doc }]);
    else records.push({ ts, doc });
  }

  put(namespace: string, key: string, value: object): void {
    this.#push(this.#keys(namespace), key, Date.now(), value);
  }

  putBatch(entries: readonly Entry[]): void {
    const ts = Date.now();
    for (const e of entries) this.#push(this.#keys(e.namespace), e.key, ts, e.value);
  }

  get(namespace: string, key: string): unknown {
    const records = this.#namespaces.get(namespace)?.get(key);
    return records === undefined ? undefined : records[records.length - 1]!.doc;
  }

  history(namespace: string, key: string): readonly unknown[] {
    return this.#namespaces.get(namespace)?.get(key) ?? [];
  }

  getAt(namespace: string, key: string, when: number): unknown {
    const records = this.#namespaces.get(namespace)?.get(key);
    if (records === undefined) return undefined;
    // Last record with ts <= when: O(log h).
    let lo = 0;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid]!.ts <= when) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : records[lo - 1];
  }

  itemValue(item: unknown): unknown {
    return (item as MapRecord).doc;
  }

  async stats(): Promise<Record<string, unknown>> {
    let keys = 0;
    let versions = 0;
    for (const ns of this.#namespaces.values()) {
      keys += ns.size;
      for (const records of ns.values()) versions += records.length;
    }
    return { keys, versions };
  }

  async close(): Promise<void> {
    this.#namespaces.clear();
  }
}

/** Map: memory only; stands in as the ceiling for in-process reads as well. */
export const mapSubject: Subject = {
  id: 'map',
  label: 'Map',
  version: `Node ${process.version}`,
  supports: (durability) => durability === 'memory',
  describe: () => 'in memory, no copies',
  async open(_dir: string, _durability: Durability): Promise<VersionedStore> {
    return new MapStore();
  },
};
