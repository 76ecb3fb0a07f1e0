/**
 * KoruDelta's query layer through its public API: `query` (wire form, as an application
 * writes it), `createIndex`, `subscribe` and views. Loaded only in KoruDelta's child.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agg, KoruDelta } from '@koru/delta';
import { collectGarbage, median } from '../measure.js';
import type { QueryPeer, UserCollection } from '../query-peer.js';
import { USERS, type User, type UserDoc } from '../users.js';

/** Largest putMany the bench sends. */
const LOAD_BATCH = 10_000;

async function loadUsers(users: readonly User[]): Promise<KoruDelta> {
  const db = await KoruDelta.start();
  for (let i = 0; i < users.length; i += LOAD_BATCH) {
    const batch = users.slice(i, i + LOAD_BATCH).map((u) => ({ namespace: USERS, key: u.key, value: u.doc }));
    await db.putMany(batch);
  }
  return db;
}

class KoruUsers implements UserCollection {
  readonly #db: KoruDelta;

  constructor(db: KoruDelta) {
    this.#db = db;
  }

  async topByName(minAge: number, limit: number): Promise<readonly UserDoc[]> {
    const r = await this.#db.query(USERS, { filter: { age: { $gt: minAge } }, sort: [['name', 'asc']], limit });
    return r.rows.map((row) => row.value as unknown as UserDoc);
  }

  async countCity(city: string): Promise<number> {
    return (await this.#db.query(USERS, { filter: { city }, limit: 0 })).total;
  }

  async byEmail(email: string): Promise<readonly UserDoc[]> {
    const r = await this.#db.query(USERS, { filter: { email } });
    return r.rows.map((row) => row.value as unknown as UserDoc);
  }

  async checkEmailScan(sample: string): Promise<string> {
    const { explain } = await this.#db.query(USERS, { filter: { email: sample } });
    if (explain.strategy !== 'scan') throw new Error(`expected a scan before createIndex, explain says ${JSON.stringify(explain)}`);
    return `explain: strategy 'scan', examined ${explain.examined.toLocaleString('en-US')}`;
  }

  async indexEmail(sample: string): Promise<string> {
    const t0 = performance.now();
    await this.#db.createIndex(USERS, 'email');
    const ms = performance.now() - t0;
    const { explain, rows } = await this.#db.query(USERS, { filter: { email: sample } });
    if (explain.strategy !== 'index' || !explain.indexes.includes('email') || rows.length !== 1) {
      throw new Error(`the email query does not use the index: explain ${JSON.stringify(explain)}, ${rows.length} rows`);
    }
    return `createIndex('email') took ${ms.toFixed(0)} ms; explain: strategy 'index' on [email], examined ${explain.examined}`;
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

/** KoruDelta in memory (`start()`), documents written with putMany. */
export const koruQueryPeer: QueryPeer = {
  storage: `start() in memory, loaded with putMany of ${LOAD_BATCH.toLocaleString('en-US')}`,
  calls: {
    top: "db.query('users', { filter: { age: { $gt: 30 } }, sort: [['name', 'asc']], limit: 10 })",
    count: "db.query('users', { filter: { city }, limit: 0 }).total",
    email: "db.query('users', { filter: { email } })",
  },
  async load(users) {
    return new KoruUsers(await loadUsers(users));
  },
};

/** A write that changes the user's age (so view membership changes now and then). */
function ageChange(u: User, salt: number): UserDoc {
  return { ...u.doc, age: (u.doc.age + 1 + (salt % 97)) % 100 };
}

/** Put-to-delivery latencies with `subscribers` live subscriptions on the namespace. */
export interface FanOut {
  /** ms from just before `put` to the moment the last subscriber's handler ran, per timed put */
  readonly latencies: Float64Array;
  /** ms from just before `put` to its promise resolving, per timed put */
  readonly acks: Float64Array;
  /** every subscriber saw every change, in order (checked after the run) */
  readonly deliveries: number;
}

/**
 * `subscribers` subscriptions on the users namespace of an in-memory database holding
 * `users`, then `warmup + puts` puts, each awaited until all subscribers ran, 1 ms apart.
 * Throws when a subscriber missed, repeated or reordered a change.
 */
export async function subscriberFanOut(users: readonly User[], subscribers: number, puts: number, warmup: number): Promise<FanOut> {
  const db = await loadUsers(users);
  const seen = new Uint32Array(subscribers);
  const wrong: string[] = [];
  let expectedSeq = 0;
  let pending = 0;
  let lastAt = 0;
  let roundDone: () => void = () => {};
  const subs = [];
  for (let s = 0; s < subscribers; s++) {
    subs.push(
      db.subscribe({ namespace: USERS }, (event) => {
        if (event.type !== 'change' || event.seq !== expectedSeq) {
          if (wrong.length < 5) wrong.push(`subscriber ${s} got ${event.type} seq ${event.seq}, expected change seq ${expectedSeq}`);
          return;
        }
        seen[s]!++;
        if (--pending === 0) {
          lastAt = performance.now();
          roundDone();
        }
      }),
    );
  }
  const latencies = new Float64Array(puts);
  const acks = new Float64Array(puts);
  const total = warmup + puts;
  for (let i = 0; i < total; i++) {
    const u = users[(i * 7919) % users.length]!;
    const value = ageChange(u, i);
    pending = subscribers;
    expectedSeq = db.seq + 1;
    const delivered = new Promise<void>((resolve) => (roundDone = resolve));
    const t0 = performance.now();
    await db.put(USERS, u.key, value);
    const ack = performance.now();
    await delivered;
    if (i >= warmup) {
      latencies[i - warmup] = lastAt - t0;
      acks[i - warmup] = ack - t0;
    }
    await sleep(1);
  }
  for (const sub of subs) sub.unsubscribe();
  await Promise.all(subs.map((s) => s.done));
  await db.close();
  const short = seen.filter((n) => n !== total).length;
  if (short > 0) wrong.push(`${short} of ${subscribers} subscribers did not see all ${total} changes`);
  if (wrong.length > 0) throw new Error(`subscribers: ${wrong.join('; ')}`);
  return { latencies, acks, deliveries: subscribers * total };
}

/** One run of the view-cost row: µs per put into each namespace (the median block). */
export interface ViewCostRun {
  readonly withView: number;
  readonly without: number;
}

/** Namespace of the view-cost row without the view (`users` has it). */
export const PLAIN = 'users-plain';
/** Puts per block: the two namespaces take turns block by block. */
export const VIEW_BLOCK = 16;

/**
 * The write-path cost of one auto-refresh filter view. One in-memory database holds
 * `users` twice: in `users`, which gets an auto-refresh view (age > 30), and in
 * `users-plain`, which gets none. Each run times `putsPerSide` awaited puts into each
 * (age changes of spread-out users) in alternating blocks of 16, after `warmup` untimed
 * puts into each, so slow drift and a neighbour's load fall on both sides alike; a side's
 * figure is its median block (µs per put), so a GC pause or preemption hitting one block
 * does not count.
 */
export async function viewPutCost(users: readonly User[], runs: number, putsPerSide: number, warmup: number): Promise<ViewCostRun[]> {
  const db = await KoruDelta.start();
  // Both namespaces loaded batch by batch in turn, so neither is laid out first.
  for (let i = 0; i < users.length; i += LOAD_BATCH) {
    const batch = users.slice(i, i + LOAD_BATCH);
    await db.putMany(batch.map((u) => ({ namespace: USERS, key: u.key, value: u.doc })));
    await db.putMany(batch.map((u) => ({ namespace: PLAIN, key: u.key, value: u.doc })));
  }
  await db.createView({ name: 'adults', namespace: USERS, query: { filter: { age: { $gt: 30 } } }, autoRefresh: true });
  const n = warmup + putsPerSide;
  const keys = new Array<string>(n);
  // Each side gets value objects of its own: none is ever put twice.
  const blocks = Math.ceil(putsPerSide / VIEW_BLOCK);
  const withView = { namespace: USERS, values: new Array<UserDoc>(n), us: new Float64Array(blocks) };
  const without = { namespace: PLAIN, values: new Array<UserDoc>(n), us: new Float64Array(blocks) };
  const out: ViewCostRun[] = [];
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < n; i++) {
      const u = users[(r * 104_729 + i * 7919) % users.length]!;
      keys[i] = u.key;
      withView.values[i] = ageChange(u, r + i);
      without.values[i] = ageChange(u, r + i);
    }
    collectGarbage();
    for (let i = 0; i < warmup; i++) {
      await db.put(USERS, keys[i]!, withView.values[i]);
      await db.put(PLAIN, keys[i]!, without.values[i]);
    }
    for (let b = 0; b < blocks; b++) {
      const from = warmup + b * VIEW_BLOCK;
      const to = Math.min(n, from + VIEW_BLOCK);
      // Which side goes first alternates too.
      for (const side of b % 2 === 0 ? [withView, without] : [without, withView]) {
        const { namespace, values } = side;
        const t0 = performance.now();
        for (let i = from; i < to; i++) await db.put(namespace, keys[i]!, values[i]);
        side.us[b] = ((performance.now() - t0) * 1000) / (to - from);
      }
    }
    out.push({ withView: median(withView.us), without: median(without.us) });
  }
  const view = await db.queryView('adults');
  const live = await db.query(USERS, { filter: { age: { $gt: 30 } }, limit: 0 });
  await db.close();
  if (view.total !== live.total) throw new Error(`view 'adults' holds ${view.total} docs, the query finds ${live.total}`);
  return out;
}

/** Milliseconds of the aggregate view's recompute after writes. */
export interface AggregateRefresh {
  /** auto-refresh `Agg.count()` view: `queryView` right after one put, ms */
  readonly autoMs: number[];
  /** manual view of the same query: `refreshView` right after one put, ms */
  readonly manualMs: number[];
  readonly matching: number;
}

/**
 * An auto-refresh and a manual aggregate view (`Agg.count()` of `age > 30`) over
 * `users`; `rounds` times: one put of a matching value (untimed), then `queryView` of the
 * auto view and `refreshView` of the manual one, each timed and its count checked. (A
 * write that matches neither before nor after leaves the cached result valid.)
 */
export async function aggregateRefresh(users: readonly User[], rounds: number): Promise<AggregateRefresh> {
  const db = await loadUsers(users);
  const ages = new Map<string, number>();
  let adults = 0;
  for (const u of users) {
    ages.set(u.key, u.doc.age);
    if (u.doc.age > 30) adults++;
  }
  const filter = { age: { $gt: 30 } };
  await db.createView({ name: 'adults-count', namespace: USERS, query: { filter }, aggregate: Agg.count(), autoRefresh: true });
  await db.createView({ name: 'adults-count-manual', namespace: USERS, query: { filter }, aggregate: Agg.count() });
  const autoMs: number[] = [];
  const manualMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const u = users[(i * 7919 + 13) % users.length]!;
    // The new value matches the view's filter, so the write always touches the view.
    const value = { ...u.doc, age: 31 + ((u.doc.age + i) % 69) };
    await db.put(USERS, u.key, value);
    adults += (value.age > 30 ? 1 : 0) - (ages.get(u.key)! > 30 ? 1 : 0);
    ages.set(u.key, value.age);
    let t0 = performance.now();
    const auto = await db.queryView('adults-count');
    autoMs.push(performance.now() - t0);
    t0 = performance.now();
    const manual = await db.refreshView('adults-count-manual');
    manualMs.push(performance.now() - t0);
    if (auto.aggregate !== adults || manual.aggregate !== adults) {
      throw new Error(`aggregate views count ${String(auto.aggregate)} (auto) and ${String(manual.aggregate)} (manual), expected ${adults}`);
    }
  }
  await db.close();
  return { autoMs, manualMs, matching: adults };
}
