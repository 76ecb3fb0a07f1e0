/**
 * The write path. Writes arriving while a commit is on its way wait and go together in
 * the next one (group commit): one call of the commit function (./schema.ts), one round
 * trip and one transaction, for the whole batch. Each write is made on its key's head as
 * this server believes it (./head-cache.ts); when PostgreSQL finds another head there
 * (another server wrote first), nothing of the batch is stored, the heads it reports
 * replace the beliefs, and the batch is made again, compare-and-set checked against the
 * real heads: an `ifVersion` that no longer holds is VERSION_CONFLICT, never a lost update.
 * A write is acknowledged only after its transaction committed.
 */
import { formatHlc, InvalidArgumentError, parseHlc, UnavailableError, valueIdOfCanonical, versionIdOf, type Canonical, type HybridClock } from '@koru/engine';
import { KeyNotFoundError, VersionConflictError } from '@koru/storage/errors';
import type { Version } from '@koru/storage';
import type { Pool } from 'pg';
import { isUnreachable, koruErrorOf, neverSent, sqlState } from './errors.js';
import { headKey, type Head, type HeadCache } from './head-cache.js';

/** One write of a unit: a value (canonical) or, with `canon` null, a delete. */
export interface WriteItem {
  readonly namespace: string;
  readonly key: string;
  readonly canon: Canonical | null;
  /** Compare-and-set: the head expected (null: no live value); undefined: unconditional. */
  readonly ifVersion: string | null | undefined;
}

/** Writes that succeed or fail together (a put, a delete, or a putMany). */
interface Unit {
  readonly items: readonly WriteItem[];
  /** Versions made elsewhere (an import), committed as they are, with their values' text. */
  readonly made?: { readonly versions: readonly Version[]; readonly bodies: ReadonlyArray<string | null> };
  readonly resolve: (versions: Version[]) => void;
  readonly reject: (e: unknown) => void;
}

/** A unit made into versions on the heads of one attempt. */
interface Built {
  readonly unit: Unit;
  readonly versions: Version[];
  readonly bodies: Array<string | null>;
  readonly docOk: boolean[];
}

/** What a call of the commit function did: committed from `firstSeq`, or nothing, for these keys' heads. */
type CallOutcome = { firstSeq: number; conflicts?: undefined } | { firstSeq?: undefined; conflicts: Map<string, Head> };

/** Most items one round trip carries (a larger putMany goes alone, whole). */
const MAX_BATCH_ITEMS = 2_000;
/** Most value bytes one round trip carries (the same exception). */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** Attempts before a batch that keeps meeting other servers' writes gives up (UNAVAILABLE: retry). */
const MAX_ATTEMPTS = 64;

/** jsonb cannot hold U+0000 in a string: such a value is kept as text only, and filtered in the process. */
function jsonbCanHold(text: string): boolean {
  return !text.includes('\\u0000');
}

/** The commit queue of one store. */
export class CommitQueue {
  readonly #pool: Pool;
  readonly #clock: HybridClock;
  readonly #nodeId: string;
  readonly #heads: HeadCache;
  readonly #committed: (lastSeq: number) => void;
  #waiting: Unit[] = [];
  #running = false;

  constructor(pool: Pool, clock: HybridClock, nodeId: string, heads: HeadCache, committed: (lastSeq: number) => void) {
    this.#pool = pool;
    this.#clock = clock;
    this.#nodeId = nodeId;
    this.#heads = heads;
    this.#committed = committed;
  }

  /** Queues a unit; resolves with its versions once committed. */
  submit(items: readonly WriteItem[]): Promise<Version[]> {
    return new Promise<Version[]>((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  /**
   * Queues versions made elsewhere (an import): committed unchanged, all or none. One
   * that does not chain on its key's head is INVALID_ARGUMENT.
   */
  submitVersions(versions: readonly Version[], bodies: ReadonlyArray<string | null>): Promise<Version[]> {
    return new Promise<Version[]>((resolve, reject) => {
      const items = versions.map((v) => ({ namespace: v.namespace, key: v.key, canon: null, ifVersion: undefined }));
      this.#waiting.push({ items, made: { versions, bodies }, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  /** Waits until everything queued so far is settled. */
  async idle(): Promise<void> {
    while (this.#running || this.#waiting.length > 0) await new Promise((r) => setTimeout(r, 1));
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#take();
        try {
          await this.#commit(batch);
        } catch (e) {
          // A bug in the write path fails its batch, never the process (the queue is
          // started without an awaiting caller: an escaping error would kill the server).
          const err = koruErrorOf(e, 'committing a write');
          for (const u of batch) u.reject(err);
        }
        // Let the writers just answered write again before the next batch is taken: their
        // next writes (promise continuations) join it, instead of the next batch holding
        // only what arrived during the commit and the one after it the rest.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.#running = false;
    }
  }

  /** The next batch: waiting units in order, up to the round trip's limits (at least one). */
  #take(): Unit[] {
    let items = 0;
    let bytes = 0;
    let n = 0;
    for (const u of this.#waiting) {
      const size = u.items.reduce((s, i) => s + (i.canon?.bytes ?? 0), 0);
      if (n > 0 && (items + u.items.length > MAX_BATCH_ITEMS || bytes + size > MAX_BATCH_BYTES)) break;
      items += u.items.length;
      bytes += size;
      n++;
    }
    return this.#waiting.splice(0, n);
  }

  async #commit(units: Unit[]): Promise<void> {
    let live = units;
    // Heads read from PostgreSQL (or reported by it) during this commit: a check that
    // fails on one of these is an answer; on an older belief, a reason to read again.
    const fresh = new Set<string>();
    // Heads to read before the next attempt: those a check failed on while only believed.
    const toRead = new Map<string, readonly [string, string]>();
    for (let attempt = 0; live.length > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS) {
        const e = new UnavailableError(`the write met other servers' writes to the same keys ${MAX_ATTEMPTS} times in a row; retry`);
        for (const u of live) u.reject(e);
        return;
      }
      try {
        await this.#readHeads(toRead, fresh);
      } catch (e) {
        const err = koruErrorOf(e, 'reading heads before a write');
        for (const u of live) u.reject(err);
        return;
      }
      const { built, stale } = this.#build(live, fresh, toRead);
      live = built.map((b) => b.unit);
      if (stale) continue; // a check failed on a belief: read that head and build again
      if (built.length === 0) return;
      let outcome: CallOutcome;
      try {
        outcome = await this.#call(built);
      } catch (e) {
        const state = sqlState(e);
        if (state === '40P01' || state === '40001' || state === 'KR001') {
          // A deadlock, a serialization failure, or a key created by another server in
          // the meantime: nothing was written; read the heads again and retry.
          for (const b of built) for (const v of b.versions) this.#heads.delete(headKey(v.namespace, v.key));
          continue;
        }
        for (const b of built) for (const v of b.versions) this.#heads.delete(headKey(v.namespace, v.key));
        const err = koruErrorOf(e, 'committing a write');
        const unknown = isUnreachable(e) && !neverSent(e)
          ? new UnavailableError(`${err.message} (whether the write was stored is unknown: read the key to find out)`, {
              cause: e,
              details: { outcome: 'unknown' },
            })
          : err;
        for (const b of built) b.unit.reject(unknown);
        return;
      }
      if (outcome.conflicts !== undefined) {
        for (const [k, head] of outcome.conflicts) {
          this.#heads.set(k, head);
          fresh.add(k);
        }
        // Imported versions cannot be made again on another head: refused.
        live = live.filter((u) => {
          const bad = u.made?.versions.find((v) => outcome.conflicts!.has(headKey(v.namespace, v.key)));
          if (bad === undefined) return true;
          u.reject(new InvalidArgumentError(`the imported version ${bad.versionId} of ${bad.namespace}/${bad.key} does not follow the key's newest version`));
          return false;
        });
        continue;
      }
      let seq = outcome.firstSeq;
      for (const b of built) {
        for (const v of b.versions) {
          this.#heads.set(headKey(v.namespace, v.key), { versionId: v.versionId, hlc: v.hlc, deleted: v.deleted });
          seq++;
        }
      }
      this.#committed(seq - 1);
      for (const b of built) b.unit.resolve(b.versions);
      return;
    }
  }

  /** Reads the heads of `keys` (cache key → namespace and key), which become fresh beliefs. */
  async #readHeads(keys: Map<string, readonly [string, string]>, fresh: Set<string>): Promise<void> {
    if (keys.size === 0) return;
    const pairs = [...keys.values()];
    const r = await this.#pool.query<{ ns: string; key: string; version_id: string; hlc: string; deleted: boolean }>({
      name: 'koru-heads',
      text: 'SELECT h.ns, h.key, h.version_id, h.hlc, h.deleted FROM koru_heads h JOIN unnest($1::text[], $2::text[]) AS a(ns, key) ON h.ns = a.ns AND h.key = a.key',
      values: [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    });
    for (const k of keys.keys()) {
      this.#heads.set(k, null);
      fresh.add(k);
    }
    for (const row of r.rows) this.#heads.set(headKey(row.ns, row.key), { versionId: row.version_id, hlc: row.hlc, deleted: row.deleted });
    keys.clear();
  }

  /**
   * Makes each unit's versions on the believed heads (an earlier unit of the batch counts
   * as the head). A unit whose check fails is rejected, unless the head it failed on was
   * only a belief: then that head is forgotten (read again next attempt) and `stale` set.
   */
  #build(units: readonly Unit[], fresh: ReadonlySet<string>, toRead: Map<string, readonly [string, string]>): { built: Built[]; stale: boolean } {
    const running = new Map<string, Head>();
    const built: Built[] = [];
    let stale = false;
    for (const unit of units) {
      if (unit.made !== undefined) {
        const { versions, bodies } = unit.made;
        for (const v of versions) running.set(headKey(v.namespace, v.key), { versionId: v.versionId, hlc: v.hlc, deleted: v.deleted });
        built.push({ unit, versions: [...versions], bodies: [...bodies], docOk: bodies.map((b) => b !== null && jsonbCanHold(b)) });
        continue;
      }
      const local = new Map<string, Head>();
      const versions: Version[] = [];
      const bodies: Array<string | null> = [];
      const docOk: boolean[] = [];
      let failed: unknown;
      for (const item of unit.items) {
        const k = headKey(item.namespace, item.key);
        const inBatch = local.has(k) || running.has(k);
        // A key this server holds no belief about is taken to be new: right for a first
        // write (one round trip), and a key that exists makes the commit report its head.
        const head = local.has(k) ? local.get(k)! : running.has(k) ? running.get(k)! : (this.#heads.get(k) ?? null);
        const absent = head === null || head.deleted;
        const casFails = item.ifVersion !== undefined && (item.ifVersion === null ? !absent : item.ifVersion !== head?.versionId);
        if ((item.canon === null && absent) || casFails) {
          if (!inBatch && !fresh.has(k)) {
            // A belief may be out of date: only a head read from PostgreSQL can refuse.
            toRead.set(k, [item.namespace, item.key]);
            stale = true;
          }
          // As embedded: deleting a key with no value is KEY_NOT_FOUND, whatever ifVersion says.
          failed =
            item.canon === null && absent ? new KeyNotFoundError(item.namespace, item.key) : new VersionConflictError(item.namespace, item.key, item.ifVersion ?? null, head?.versionId ?? null);
          break;
        }
        if (head !== null) this.#observe(head.hlc);
        const stamp = this.#clock.tick();
        const hlc = formatHlc(stamp);
        const deleted = item.canon === null;
        const valueId = deleted ? null : valueIdOfCanonical(item.canon!.text);
        const previousVersion = head?.versionId ?? null;
        const { namespace, key } = item;
        const versionId = versionIdOf({ namespace, key, valueId, previousVersion, hlc, node: this.#nodeId, deleted });
        versions.push(
          Object.freeze({
            namespace,
            key,
            value: deleted ? null : item.canon!.value,
            valueId,
            versionId,
            previousVersion,
            timestamp: new Date(stamp.wall).toISOString(),
            hlc,
            node: this.#nodeId,
            deleted,
          }),
        );
        bodies.push(deleted ? null : item.canon!.text);
        docOk.push(!deleted && jsonbCanHold(item.canon!.text));
        local.set(k, { versionId, hlc, deleted });
      }
      if (failed !== undefined) {
        if (!stale) unit.reject(failed);
        else built.push({ unit, versions: [], bodies: [], docOk: [] }); // kept: built again after the read
        continue;
      }
      for (const [k, h] of local) running.set(k, h);
      built.push({ unit, versions, bodies, docOk });
    }
    return { built, stale };
  }

  #lastSeen = '';

  /** Moves the clock past a head's stamp, so the version made on it follows it in clock order. */
  #observe(hlc: string): void {
    if (hlc <= this.#lastSeen) return;
    this.#clock.observe(parseHlc(hlc));
    this.#lastSeen = hlc;
  }

  /** One call of the commit function: the first seq, or the keys whose heads were others. */
  async #call(built: readonly Built[]): Promise<CallOutcome> {
    const cols = {
      ns: [] as string[],
      key: [] as string[],
      vid: [] as string[],
      prev: [] as Array<string | null>,
      valueId: [] as Array<string | null>,
      hlc: [] as string[],
      node: [] as string[],
      wall: [] as number[],
      deleted: [] as boolean[],
      body: [] as Array<string | null>,
      docOk: [] as boolean[],
    };
    const keyOf: string[] = [];
    for (const b of built) {
      b.versions.forEach((v, i) => {
        cols.ns.push(v.namespace);
        cols.key.push(v.key);
        cols.vid.push(v.versionId);
        cols.prev.push(v.previousVersion);
        cols.valueId.push(v.valueId);
        cols.hlc.push(v.hlc);
        cols.node.push(v.node);
        cols.wall.push(Date.parse(v.timestamp));
        cols.deleted.push(v.deleted);
        cols.body.push(b.bodies[i]!);
        cols.docOk.push(b.docOk[i]!);
        keyOf.push(headKey(v.namespace, v.key));
      });
    }
    const r = await this.#pool.query<{ first_seq: string | null; conflict: number; head_vid: string | null; head_hlc: string | null; head_deleted: boolean | null }>({
      name: 'koru-commit',
      text: 'SELECT * FROM koru_commit($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::boolean[], $10::text[], $11::boolean[])',
      values: [cols.ns, cols.key, cols.vid, cols.prev, cols.valueId, cols.hlc, cols.node, cols.wall, cols.deleted, cols.body, cols.docOk],
    });
    const first = r.rows[0];
    if (first !== undefined && first.first_seq !== null) return { firstSeq: Number(first.first_seq) };
    const conflicts = new Map<string, Head>();
    for (const row of r.rows) {
      conflicts.set(keyOf[row.conflict - 1]!, row.head_vid === null ? null : { versionId: row.head_vid, hlc: row.head_hlc!, deleted: row.head_deleted! });
    }
    if (conflicts.size === 0) throw new Error('koru: the commit function returned neither a seq nor a conflict (a bug)');
    return { conflicts };
  }
}
