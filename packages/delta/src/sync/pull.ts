/**
 * Pulling: the server's versions after the pull cursor, applied with the cluster's merge
 * rule (`applyReplicated`: duplicates — our own versions coming back — skipped, clock
 * order picks the head, history the union). A version whose predecessor has not arrived
 * is kept aside and retried after each later batch; while any waits, the cursor saved
 * stays before it, so a restart pulls it again.
 */
import type { KoruClient } from '@koru/client';
import type { CausalStorage, ImportedVersion, SeqVersion } from '@koru/storage';
import { wireVersion } from './push.js';

/** Versions asked for per pull. */
export const PULL_BATCH_VERSIONS = 1_000;

/** Orphans of the pull: versions whose predecessor has not arrived yet, by id, with their server seq. */
export class PullOrphans {
  readonly #waiting = new Map<string, { readonly item: ImportedVersion; readonly seq: number }>();

  /** How many wait. */
  get size(): number {
    return this.#waiting.size;
  }

  /** The server seq just before the oldest one waiting (where a restart must pull from), or undefined. */
  resumeBefore(): number | undefined {
    let min: number | undefined;
    for (const { seq } of this.#waiting.values()) if (min === undefined || seq < min) min = seq;
    return min === undefined ? undefined : min - 1;
  }

  /** Forgets them all (the server changed: they will be pulled again). */
  clear(): void {
    this.#waiting.clear();
  }

  /** Applies `versions` (a pulled batch, in server seq order), then whatever waits, until nothing more goes in. */
  async apply(storage: CausalStorage, versions: readonly SeqVersion[]): Promise<void> {
    const seqOf = new Map<string, number>();
    for (const v of versions) seqOf.set(v.versionId, v.seq);
    let items: ImportedVersion[] = versions.map(wireVersion);
    for (;;) {
      const r = await storage.applyReplicated(items);
      const orphanIds = new Set(r.orphans.map((o) => o.versionId));
      // Applied or stored already: no longer waiting.
      for (const it of items) if (!orphanIds.has(it.versionId)) this.#waiting.delete(it.versionId);
      for (const o of r.orphans) if (!this.#waiting.has(o.versionId)) this.#waiting.set(o.versionId, { item: o, seq: seqOf.get(o.versionId) ?? 0 });
      // Retry the waiting ones only while something went in (it may be a predecessor):
      // each round stores at least one version, so this ends.
      if (r.applied.length === 0 || this.#waiting.size === 0) return;
      items = [...this.#waiting.values()].map((w) => w.item);
    }
  }
}

/** One pulled batch: the server's answer, applied. */
export interface Pulled {
  readonly next: number;
  readonly head: number;
  readonly count: number;
}

/** Pulls and applies the next batch after server seq `cursor`. @throws what the server or the merge throws */
export async function pullNext(client: KoruClient, storage: CausalStorage, cursor: number, namespaces: ReadonlySet<string> | undefined, orphans: PullOrphans): Promise<Pulled> {
  const r = await client.syncPull(cursor, { limit: PULL_BATCH_VERSIONS, ...(namespaces !== undefined ? { namespaces: [...namespaces] } : {}) });
  if (r.head < cursor) return { next: r.next, head: r.head, count: 0 };
  if (r.versions.length > 0) await orphans.apply(storage, r.versions);
  return { next: r.next, head: r.head, count: r.versions.length };
}
