/**
 * The query layer beside peers that query documents in memory too (better-sqlite3 with
 * json_extract, LokiJS): a sorted and limited scan and a plain filtered scan on
 * `queryDocs` users, an equality lookup on `indexedQueryDocs` users without and with an
 * index; then KoruDelta alone: change-feed fan-out to 1,000 subscribers and what views
 * cost. Answers are checked (untimed) before each row and inside the timed loops.
 */
import type { SuiteContext } from '../context.js';
import { collectGarbage, median, perSecond, percentile, timedCalls } from '../measure.js';
import { loadQueryPeer, type QueryPeer, type UserCollection } from '../query-peer.js';
import { USER_CITIES, expectedCityCount, expectedTopNames, makeUsers, type User, type UserDoc } from '../users.js';
import { SEED, randomInts } from '../workload.js';

const MIN_AGE = 30;
const LIMIT = 10;
const PICKS = 1 << 12;
/** Untimed puts before the subscriber and view passes. */
const LIVE_WARMUP = 50;
const VIEW_WARMUP = 1_000;
/** Documents in the namespace the subscribers watch (every put updates one of them). */
const SUBSCRIBED_DOCS = 10_000;

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const s1 = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Warm-up run, then `runs` timed runs of `op`; the rates and the calls of the last run. */
async function rateRow<T>(ctx: SuiteContext, op: (i: number) => T | Promise<T>, ok: (r: T, i: number) => boolean, checkEvery: number): Promise<{ rates: number[]; calls: number }> {
  collectGarbage();
  await timedCalls(op, ok, ctx.config.warmupMs, checkEvery);
  const rates: number[] = [];
  let calls = 0;
  for (let r = 0; r < ctx.config.runs; r++) {
    const t = await timedCalls(op, ok, ctx.config.readRunMs, checkEvery);
    rates.push(perSecond(t));
    calls = t.ops;
  }
  return { rates, calls };
}

async function loadTimed(ctx: SuiteContext, peer: QueryPeer, users: readonly User[]): Promise<{ coll: UserCollection; ms: number }> {
  collectGarbage();
  const t0 = performance.now();
  const coll = await peer.load(users);
  const ms = performance.now() - t0;
  ctx.log(`queries: loaded ${n(users.length)} docs in ${s1(ms)}`);
  return { coll, ms };
}

/** query.top and query.scan on `queryDocs` users. */
async function scanRows(ctx: SuiteContext, peer: QueryPeer, coll: UserCollection, users: readonly User[], loaded: string): Promise<void> {
  const { config } = ctx;
  const docs = n(users.length);
  const topNames = expectedTopNames(users, MIN_AGE, LIMIT);
  const got = (await coll.topByName(MIN_AGE, LIMIT)).map((d) => d.name);
  if (got.join('\n') !== topNames.join('\n')) await ctx.problem(`query.top: wrong answer: got [${got.join(', ')}], expected [${topNames.join(', ')}]`);
  const firstName = topNames[0];
  const top = await rateRow(
    ctx,
    () => coll.topByName(MIN_AGE, LIMIT),
    (rows: readonly UserDoc[]) => rows.length === LIMIT && rows[0]!.name === firstName,
    1,
  );
  const matching = users.reduce((k, u) => k + (u.doc.age > MIN_AGE ? 1 : 0), 0);
  await ctx.emit(
    'query.top',
    median(top.rates),
    'queries/s',
    `${docs} docs (${n(matching)} match), no index; ${peer.calls.top}; ${peer.storage}; ${loaded}; answer checked; median of ${top.rates.length} runs of ~${config.readRunMs} ms (${n(top.calls)} queries in the last)`,
    top.rates,
  );

  const counts = USER_CITIES.map((c) => expectedCityCount(users, c));
  for (let c = 0; c < 3; c++) {
    const count = await coll.countCity(USER_CITIES[c]!);
    if (count !== counts[c]) await ctx.problem(`query.scan: ${USER_CITIES[c]} counts ${count}, expected ${counts[c]}`);
  }
  const cities = USER_CITIES.length;
  const scan = await rateRow(
    ctx,
    (i) => coll.countCity(USER_CITIES[i % cities]!),
    (count: number, i) => count === counts[i % cities],
    1,
  );
  const rates = scan.rates.map((q) => q * users.length);
  await ctx.emit(
    'query.scan',
    median(rates),
    'docs/s',
    `documents tested per second: queries/s × ${docs}; count of city == X, X cycling through ${cities} cities (~${n(users.length / cities)} match each), no index; ${peer.calls.count}; median of ${rates.length} runs (${n(scan.calls)} queries in the last run)`,
    rates,
  );
}

/** query.email.scan and query.email.index on `indexedQueryDocs` users. */
async function emailRows(ctx: SuiteContext, peer: QueryPeer, coll: UserCollection, users: readonly User[], loaded: string): Promise<void> {
  const { config } = ctx;
  const picks = randomInts(PICKS, users.length, SEED + 11);
  const emails = Array.from(picks, (i) => users[i]!.doc.email);
  const mask = PICKS - 1;
  const docs = `${n(users.length)} docs${config.quick ? ` (quick run: ${n(users.length)} instead of 1,000,000)` : ''}`;
  const sample = emails[0]!;
  const lookup = (i: number): readonly UserDoc[] | Promise<readonly UserDoc[]> => coll.byEmail(emails[i & mask]!);
  const one = (rows: readonly UserDoc[], i: number): boolean => rows.length === 1 && rows[0]!.email === emails[i & mask];

  const plan = await coll.checkEmailScan(sample);
  const scan = await rateRow(ctx, lookup, one, 1);
  await ctx.emit(
    'query.email.scan',
    median(scan.rates),
    'queries/s',
    `${docs}, random emails (one match each), no index; ${peer.calls.email}; ${plan}; ${loaded}; median of ${scan.rates.length} runs (${n(scan.calls)} queries in the last)`,
    scan.rates,
  );

  const built = await coll.indexEmail(sample);
  const indexed = await rateRow(ctx, lookup, one, 64);
  await ctx.emit(
    'query.email.index',
    median(indexed.rates),
    'queries/s',
    `${docs}, random emails (one match each, the document returned); ${peer.calls.email}; ${built}; median of ${indexed.rates.length} runs of ~${config.readRunMs} ms (${n(indexed.calls)} queries in the last)`,
    indexed.rates,
  );
}

/** The email rows on a collection of their own; nothing of it outlives the call, so later rows run on a small heap. */
async function largeEmailRows(ctx: SuiteContext, peer: QueryPeer, docs: number): Promise<void> {
  const users = makeUsers(docs);
  const { coll, ms } = await loadTimed(ctx, peer, users);
  try {
    await emailRows(ctx, peer, coll, users, `loaded ${n(users.length)} docs in ${s1(ms)}`);
  } finally {
    await coll.close();
  }
}

/** subscribe.p50/p99, view.putCost, view.aggregate: KoruDelta only. */
async function liveRows(ctx: SuiteContext, users: readonly User[]): Promise<void> {
  const { config } = ctx;
  const live = await import('../subjects/koru-query.js');

  collectGarbage();
  const watched = users.slice(0, SUBSCRIBED_DOCS);
  const fan = await live.subscriberFanOut(watched, config.subscribers, config.subscriberPuts, LIVE_WARMUP);
  const how = `start() in memory, ${n(watched.length)} docs; ${n(config.subscribers)} db.subscribe({ namespace }) handlers that count; ${n(config.subscriberPuts)} timed puts (after ${LIVE_WARMUP} untimed), each awaited until the last handler ran, then 1 ms idle; all ${n(fan.deliveries)} deliveries checked (every subscriber, every change, in seq order)`;
  const ack = `put resolved after ${percentile(fan.acks, 0.5).toFixed(3)} ms p50 / ${percentile(fan.acks, 0.99).toFixed(3)} ms p99`;
  await ctx.emit('subscribe.p50', percentile(fan.latencies, 0.5), 'ms', `from just before put to the ${n(config.subscribers)}th handler call; ${how}; ${ack}`);
  await ctx.emit('subscribe.p99', percentile(fan.latencies, 0.99), 'ms', `same run; max ${Math.max(...fan.latencies).toFixed(3)} ms`);

  collectGarbage();
  const cost = await live.viewPutCost(users, config.viewRuns, config.viewRunPuts, VIEW_WARMUP);
  const withView = median(cost.map((r) => r.withView));
  const without = median(cost.map((r) => r.without));
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(', ');
  await ctx.emit(
    'view.putCost',
    withView - without,
    'µs',
    `µs per put into a namespace with one auto-refresh filter view (age > 30) minus into one without: ${withView.toFixed(2)} − ${without.toFixed(2)} µs (medians over runs); start() in memory, the ${n(users.length)} docs in both namespaces of one db; ${cost.length} runs of ${n(config.viewRunPuts)} awaited puts into each (age changes of spread-out users), the namespaces taking turns every ${live.VIEW_BLOCK} puts after ${n(VIEW_WARMUP)} untimed into each, a run's figure per side being its median ${live.VIEW_BLOCK}-put block; per run with [${list(cost.map((r) => r.withView))}], without [${list(cost.map((r) => r.without))}] µs; view and query agree afterwards`,
    cost.map((r) => r.withView - r.without),
  );

  collectGarbage();
  const agg = await live.aggregateRefresh(users, config.aggregateRounds);
  await ctx.emit(
    'view.aggregate',
    median(agg.autoMs),
    'ms',
    `auto-refresh view aggregate: Agg.count() of age > 30 (${n(agg.matching)} of ${n(users.length)} docs match); one put of a matching value, then queryView (recomputes over the maintained member set), count checked; median of ${agg.autoMs.length} (p90 ${percentile(agg.autoMs, 0.9).toFixed(1)} ms); a manual view of the same: refreshView after a put ${median(agg.manualMs).toFixed(1)} ms median`,
    agg.autoMs,
  );
}

/** The query rows this subject takes part in (Map none; KoruDelta also the live rows). */
export async function querySection(ctx: SuiteContext): Promise<void> {
  const { config } = ctx;
  const peer = await loadQueryPeer(ctx.subject.id);
  if (peer === undefined) {
    ctx.log('no query layer: query rows skipped');
    return;
  }
  const users = makeUsers(config.queryDocs);
  const { coll, ms } = await loadTimed(ctx, peer, users);
  const loaded = `loaded ${n(users.length)} docs in ${s1(ms)}`;
  // In a quick run both sizes are equal and the same collection serves the email rows.
  const same = config.indexedQueryDocs === users.length;
  try {
    await scanRows(ctx, peer, coll, users, loaded);
    if (same) await emailRows(ctx, peer, coll, users, loaded);
  } finally {
    await coll.close();
  }
  if (!same) await largeEmailRows(ctx, peer, config.indexedQueryDocs);
  if (ctx.subject.id === 'koru') await liveRows(ctx, users);
}
