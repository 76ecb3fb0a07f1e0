// Differential model test: random sequences of put, delete, putMany and compare-and-set
// over a small key space, applied side by side to a database on PostgreSQL and to an
// embedded one. Every write must have the same outcome on both (the same value, the same
// error code), and afterwards both must give the same reads: every key's value and
// history, the key listings and counts, and the answers to random queries, whether
// PostgreSQL ran them wholly in SQL (explain.sql.complete), partly, or not at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcSeed } from '@koru/vitest-preset/helpers';
import { postgresAvailable, startPostgres, type PgServer } from '@koru/vitest-preset/postgres';
import { isKoruError, KoruDelta, type JsonValue, type Version } from '@koru/delta';

const pg = postgresAvailable();
if (!pg.available) console.log(`skipping the PostgreSQL model test: ${pg.reason}`);

const NAMESPACES = ['m1', 'm2'] as const;
// ASCII, two-byte, astral and a character above the surrogates: byte order differs from UTF-16 order.
const KEYS = ['a', 'b', 'é', '😀', '\uFFFF'] as const;

const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.constantFrom(0, -1, 1, 2.5, 0.1, 1e21, -1e-7, 2 ** 53 + 2, 1e300),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom('', 'a', 'b', 'ab', 'é', '😀', '\uFFFF', 'a\u0000b', '\u0000', 'B', 'b'.repeat(420)),
);
const mixed: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('a', 'b'), scalar, { maxKeys: 2 }) },
);
/** Documents with a mixed-type field `v`, a number `n`, tags; sometimes not an object at all. */
const doc: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ v: mixed, n: fc.integer({ min: 0, max: 9 }), tags: fc.array(fc.constantFrom('x', 'y', '\u0000'), { maxLength: 2 }) }, { requiredKeys: ['n'] }) },
  { weight: 1, arbitrary: scalar },
);

/** Which version a compare-and-set names, resolved in each database from its own history. */
type Expect = 'head' | 'stale' | 'absent' | 'bogus';
type Cmd =
  | { readonly op: 'put'; readonly ns: string; readonly key: string; readonly value: JsonValue; readonly ifVersion?: Expect | undefined }
  | { readonly op: 'delete'; readonly ns: string; readonly key: string; readonly ifVersion?: Expect | undefined }
  | { readonly op: 'putMany'; readonly items: ReadonlyArray<{ readonly ns: string; readonly key: string; readonly value: JsonValue; readonly ifVersion?: Expect | undefined }> };

const ns = fc.constantFrom(...NAMESPACES);
const key = fc.constantFrom(...KEYS);
const expectArb = fc.constantFrom<Expect>('head', 'stale', 'absent', 'bogus');
const cas = fc.option(expectArb, { nil: undefined, freq: 2 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), ns, key, value: doc, ifVersion: cas }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), ns, key, ifVersion: cas }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('putMany' as const), items: fc.array(fc.record({ ns, key, value: doc, ifVersion: cas }), { minLength: 1, maxLength: 3 }) }),
  },
);

/**
 * A random filter, and what PostgreSQL must say of it: `complete` (wholly in SQL),
 * `partial` (SQL narrows, the process decides), `none` (no SQL: all in the process), or
 * `any` (not checked).
 */
type Pushed = 'complete' | 'partial' | 'none' | 'any';
interface GenFilter {
  readonly filter: JsonValue;
  readonly pushed: Pushed;
}
const hasNul = (x: JsonValue): boolean => JSON.stringify(x).includes('\\u0000');
const orderSafe = (s: string): boolean => s.length <= 400 && [...s].every((c) => c.codePointAt(0)! > 0 && c.codePointAt(0)! < 0xd800);
const path = fc.constantFrom('v', 'n', 'v.a', 'v.0', 'tags.0', 'missing');
const leaf: fc.Arbitrary<GenFilter> = fc.oneof(
  fc.tuple(path, fc.constantFrom('$eq', '$ne'), mixed).map(([p, op, x]): GenFilter => ({ filter: { [p]: { [op]: x } }, pushed: hasNul(x) ? 'none' : 'complete' })),
  fc.tuple(path, fc.constantFrom('$gt', '$gte', '$lt', '$lte'), scalar).map(([p, op, x]): GenFilter => ({
    filter: { [p]: { [op]: x } },
    pushed: typeof x === 'number' ? 'complete' : typeof x === 'string' && orderSafe(x) ? 'partial' : 'none',
  })),
  fc.tuple(path, fc.constantFrom('$in', '$nin'), fc.array(mixed, { maxLength: 3 })).map(([p, op, xs]): GenFilter => ({
    filter: { [p]: { [op]: xs } },
    pushed: xs.some(hasNul) ? 'none' : 'complete',
  })),
  fc.tuple(path, fc.boolean()).map(([p, e]): GenFilter => ({ filter: { [p]: { $exists: e } }, pushed: 'complete' })),
  fc.tuple(fc.constantFrom('v', 'tags'), fc.constantFrom('a', '\u0000', 'x', 1)).map(([p, x]): GenFilter => ({ filter: { [p]: { $contains: x } }, pushed: 'none' })),
  fc.constantFrom('^a', 'b$', '\u0000', '^$').map((re): GenFilter => ({ filter: { v: { $matches: re } }, pushed: 'none' })),
);
const filterArb: fc.Arbitrary<GenFilter> = fc.letrec<{ f: GenFilter }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((fs): GenFilter => ({
      filter: { $and: fs.map((x) => x.filter) },
      pushed: fs.some((x) => x.pushed === 'any')
        ? 'any'
        : fs.every((x) => x.pushed === 'complete')
          ? 'complete'
          : fs.every((x) => x.pushed === 'none')
            ? 'none'
            : 'partial',
    })),
    fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((fs): GenFilter => ({
      filter: { $or: fs.map((x) => x.filter) },
      pushed: fs.some((x) => x.pushed === 'any') ? 'any' : fs.some((x) => x.pushed === 'none') ? 'none' : fs.every((x) => x.pushed === 'complete') ? 'complete' : 'partial',
    })),
    tie('f').map((x): GenFilter => ({ filter: { $not: x.filter }, pushed: x.pushed === 'any' ? 'any' : x.pushed === 'complete' ? 'complete' : 'none' })),
  ),
})).f;

/** The version id a compare-and-set names in `db`: the key's head, the one before it, absent (null), or one that never existed. */
async function resolve(db: KoruDelta, namespace: string, k: string, e: Expect | undefined): Promise<string | null | undefined> {
  if (e === undefined) return undefined;
  if (e === 'absent') return null;
  if (e === 'bogus') return 'e'.repeat(64);
  const h = await db.history(namespace, k).catch(() => [] as Version[]);
  if (e === 'head') return h.at(-1)?.versionId ?? null;
  return h.at(-2)?.versionId ?? 'd'.repeat(64);
}

const cas0 = (v: string | null | undefined): { ifVersion?: string | null } => (v === undefined ? {} : { ifVersion: v });

/** What a write did, in terms both databases must agree on: the versions' contents, or the error's code. */
async function apply(db: KoruDelta, c: Cmd): Promise<unknown> {
  try {
    let written: Version[];
    if (c.op === 'put') written = [await db.put(c.ns, c.key, c.value, cas0(await resolve(db, c.ns, c.key, c.ifVersion)))];
    else if (c.op === 'delete') written = [await db.delete(c.ns, c.key, cas0(await resolve(db, c.ns, c.key, c.ifVersion)))];
    else {
      const items = [];
      for (const i of c.items) items.push({ namespace: i.ns, key: i.key, value: i.value, ...cas0(await resolve(db, i.ns, i.key, i.ifVersion)) });
      written = await db.putMany(items);
    }
    return written.map((v) => ({ ns: v.namespace, key: v.key, value: v.value, valueId: v.valueId, deleted: v.deleted, first: v.previousVersion === null }));
  } catch (e) {
    if (!isKoruError(e)) throw e;
    return { error: e.code };
  }
}

async function outcome<T>(p: Promise<T>): Promise<T | { error: string }> {
  try {
    return await p;
  } catch (e) {
    if (!isKoruError(e)) throw e;
    return { error: e.code };
  }
}

/** Everything both databases must agree on after a sequence, but the explain of PostgreSQL's queries (checked on its own). */
async function observe(db: KoruDelta, filters: readonly GenFilter[]): Promise<unknown> {
  const out: Record<string, unknown> = { namespaces: await db.listNamespaces() };
  for (const n of NAMESPACES) {
    out[`${n} keys`] = await db.listKeys(n);
    out[`${n} page`] = await db.listKeys(n, { after: 'a', limit: 2 });
    out[`${n} count`] = await db.countKeys(n);
    for (const k of KEYS) {
      out[`${n}/${k} get`] = await outcome(db.get(n, k));
      out[`${n}/${k} contains`] = await db.contains(n, k);
      out[`${n}/${k} history`] = await outcome(db.history(n, k).then((h) => h.map((v) => ({ value: v.value, valueId: v.valueId, deleted: v.deleted }))));
    }
    for (const f of filters) {
      const r = await db.query(n, { filter: f.filter });
      out[`${n} ${JSON.stringify(f.filter)}`] = { rows: r.rows, total: r.total };
    }
  }
  return out;
}

describe.skipIf(!pg.available)('PostgreSQL against the embedded engine: random writes, the same answers', () => {
  let server: PgServer | undefined;
  beforeAll(async () => {
    // Commits need not wait for the disk here: the test is about answers, not durability.
    server = await startPostgres({ settings: { synchronous_commit: 'off' } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('put, delete, putMany and compare-and-set sequences', async () => {
    const seed = fcSeed('postgres-model');
    const pushedSeen = new Set<Pushed>();
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 30 }), fc.array(filterArb, { minLength: 4, maxLength: 4 }), async (cmds, filters) => {
        const onPostgres = await KoruDelta.start({ store: await server!.createDatabase() });
        const embedded = await KoruDelta.start();
        try {
          for (const [i, c] of cmds.entries()) {
            expect(await apply(onPostgres, c), `command ${i}: ${JSON.stringify(c)}`).toEqual(await apply(embedded, c));
          }
          expect(await observe(onPostgres, filters)).toEqual(await observe(embedded, filters));
          for (const f of filters) {
            const sql = (await onPostgres.query('m1', { filter: f.filter })).explain.sql;
            const said: Pushed = sql === undefined ? 'none' : sql.complete ? 'complete' : 'partial';
            if (f.pushed !== 'any') expect(said, `explain.sql of ${JSON.stringify(f.filter)}`).toBe(f.pushed);
            pushedSeen.add(said);
          }
          expect((await onPostgres.verify()).ok).toBe(true);
        } finally {
          await onPostgres.close();
          await embedded.close();
        }
      }),
      { seed, numRuns: 25 },
    );
    // The filters reached every way a query runs on PostgreSQL.
    expect([...pushedSeen].sort()).toEqual(['complete', 'none', 'partial']);
  }, 120_000);
});
