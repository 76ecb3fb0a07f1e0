/**
 * The schema, as numbered migrations the package applies itself. Every server that
 * opens the database runs `migrate`: the first takes a transaction-scoped advisory lock,
 * applies what is missing and records it; the others wait for the lock, then find
 * nothing to do. A database migrated by a newer release (a number this one does not
 * know) is refused rather than written with the old rules.
 *
 * Tables (all names start with `koru_`, so the store can share a database):
 * - `koru_values`: each distinct value once, by `value_id` (SHA-256 of its RFC 8785 text).
 * - `koru_versions`: every version ever written, numbered by `seq`, the global change
 *   sequence: a key's history and the change feed are both range scans of it.
 * - `koru_heads`: each key's newest version, with the current document as `jsonb` (what
 *   SQL filters and secondary indexes read); compare-and-set locks and checks this row.
 * - `koru_namespaces`: live keys and versions per namespace (O(1) counts).
 * - `koru_clock`: one row, the last `seq` and the value totals. Every commit updates it
 *   last, just before committing: the row lock orders commits, so `seq` order is commit
 *   order and a reader that has seen change N has seen every change before it.
 * - `koru_indexes`, `koru_views`: secondary-index and view definitions (a view's
 *   definition and last result as JSON text: they may hold U+0000, which jsonb cannot).
 *
 * Text columns that hold names and ids use the "C" collation: byte order, the order the
 * embedded engine lists keys in, whatever the database's default collation is.
 */
import type { PoolClient } from 'pg';
import { CorruptionError } from '@koru/storage/errors';

/** One migration: its number and the statements that take the schema there from the one before. */
interface Migration {
  readonly version: number;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE koru_values (
  value_id text COLLATE "C" PRIMARY KEY,
  body text NOT NULL
);
CREATE TABLE koru_versions (
  seq bigint PRIMARY KEY,
  ns text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  version_id text COLLATE "C" NOT NULL UNIQUE,
  prev text COLLATE "C",
  value_id text COLLATE "C",
  hlc text COLLATE "C" NOT NULL,
  node text COLLATE "C" NOT NULL,
  wall bigint NOT NULL,
  deleted boolean NOT NULL
);
-- A key's history in clock order, which is its chain's order (each version is stamped
-- after the one it follows): history, time travel and verify are range scans of it.
CREATE INDEX koru_versions_by_clock ON koru_versions (ns, key, hlc);
CREATE TABLE koru_heads (
  ns text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  version_id text COLLATE "C" NOT NULL,
  hlc text COLLATE "C" NOT NULL,
  value_id text COLLATE "C",
  deleted boolean NOT NULL,
  -- The current value's text (a get reads one row) and, for SQL filters and indexes, its jsonb.
  body text,
  doc jsonb,
  PRIMARY KEY (ns, key)
);
CREATE INDEX koru_heads_live ON koru_heads (ns, key) WHERE NOT deleted;
-- The few live documents jsonb cannot hold (U+0000): every pushed-down query lists them too.
CREATE INDEX koru_heads_text_only ON koru_heads (ns) WHERE doc IS NULL AND NOT deleted;
CREATE TABLE koru_namespaces (
  ns text COLLATE "C" PRIMARY KEY,
  live bigint NOT NULL DEFAULT 0,
  versions bigint NOT NULL DEFAULT 0
);
CREATE TABLE koru_clock (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  seq bigint NOT NULL,
  value_count bigint NOT NULL,
  value_bytes bigint NOT NULL
);
INSERT INTO koru_clock VALUES (true, 0, 0, 0);
CREATE TABLE koru_indexes (
  ns text COLLATE "C" NOT NULL,
  field text COLLATE "C" NOT NULL,
  index_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ns, field)
);
CREATE TABLE koru_views (
  name text COLLATE "C" PRIMARY KEY,
  -- JSON text, not jsonb: a filter's string or a result's document may hold U+0000.
  definition text NOT NULL,
  result text,
  refreshed_at timestamptz,
  refreshed_seq bigint
);

-- The sort rank of a JSON value in KoruDelta's total order (null < numbers < strings <
-- booleans < arrays < objects); NULL for a missing field. With koru_num and koru_str it
-- makes one btree index serve equality and ranges on numbers and on strings.
CREATE FUNCTION koru_rank(x jsonb) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE jsonb_typeof(x) WHEN 'null' THEN 0 WHEN 'number' THEN 1 WHEN 'string' THEN 2
    WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 END
$$;
CREATE FUNCTION koru_num(x jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(x) = 'number' THEN x::numeric END
$$;
-- The value at a dotted path as @koru/query reads it: an object's own key, or an array's
-- element at a canonical index (0, 17: not 01, -1 or +1, which #> would read as positions).
CREATE FUNCTION koru_path(x jsonb, path text[]) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  seg text;
BEGIN
  FOREACH seg IN ARRAY path LOOP
    IF jsonb_typeof(x) = 'object' THEN
      x := x -> seg;
    ELSIF jsonb_typeof(x) = 'array' AND seg ~ '^(0|[1-9][0-9]{0,8})$' THEN
      x := x -> seg::int;
    ELSE
      RETURN NULL;
    END IF;
  END LOOP;
  RETURN x;
END
$$;
-- A string's first 400 characters: a btree entry must stay under ~2.7 kB. A cut string
-- sorts at or before the whole one, so a range on it is widened (>=, <=) and every row
-- is checked again in the process: never a wrong answer.
CREATE FUNCTION koru_str(x jsonb) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(x) = 'string' THEN left(x #>> '{}', 400) END
$$;

-- Commits a batch of versions, all or none, in one round trip. Each item names the head
-- it was made on (p_prev: NULL for a key never written); when any key's head is another
-- (or is not older in clock order), nothing is written and the rows returned name each
-- such item with the head it has (the caller re-stamps and retries, or answers
-- VERSION_CONFLICT). Locks are taken in one order everywhere (heads by key, then new
-- keys, values, namespaces by name, the clock row last), so two batches never wait on
-- each other in a cycle.
CREATE FUNCTION koru_commit(
  p_ns text[], p_key text[], p_vid text[], p_prev text[], p_value_id text[], p_hlc text[],
  p_node text[], p_wall bigint[], p_deleted boolean[], p_body text[], p_doc_ok boolean[]
) RETURNS TABLE (first_seq bigint, conflict int, head_vid text, head_hlc text, head_deleted boolean)
LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(array_length(p_ns, 1), 0);
  base bigint;
  created int;
  wanted int;
  new_values bigint := 0;
  new_bytes bigint := 0;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  -- Lock every existing head of the batch, in key order.
  PERFORM 1 FROM koru_heads k
    JOIN (SELECT DISTINCT a.ns, a.key FROM unnest(p_ns, p_key) AS a(ns, key)) b ON b.ns = k.ns AND b.key = k.key
    ORDER BY k.ns, k.key FOR UPDATE OF k;
  -- Each key's first item of the batch must name the key's head, and follow it in clock
  -- order (the later items chain on the item before them: the caller builds them so).
  -- Any that does not: nothing is written, and each is returned with the head the key has.
  RETURN QUERY
    SELECT NULL::bigint, f.ord::int, k.version_id, k.hlc, k.deleted
    FROM (SELECT DISTINCT ON (a.ns, a.key) a.ns, a.key, a.prev, a.hlc, a.ord
          FROM unnest(p_ns, p_key, p_prev, p_hlc) WITH ORDINALITY AS a(ns, key, prev, hlc, ord)
          ORDER BY a.ns, a.key, a.ord) f
    LEFT JOIN koru_heads k ON k.ns = f.ns AND k.key = f.key
    WHERE k.version_id IS DISTINCT FROM f.prev OR k.hlc >= f.hlc;
  IF FOUND THEN
    RETURN;
  END IF;
  -- The batch's last item of each key, with whether the key was live before it.
  CREATE TEMP TABLE IF NOT EXISTS koru_batch_last (
    ns text COLLATE "C", key text COLLATE "C", vid text, hlc text, value_id text, deleted boolean,
    body text, doc_ok boolean, is_new boolean, was_live boolean
  );
  -- Whether a key is new is what the batch was made on (its first item names no head),
  -- never a second look at koru_heads: a key another batch created since the check above
  -- must make this one fail (KR001 below), not be updated as if it had been checked.
  -- Whether it was live is read from its head row, locked above.
  INSERT INTO koru_batch_last
    SELECT DISTINCT ON (x.ns, x.key) x.ns, x.key, x.vid, x.hlc, x.value_id, x.deleted, x.body, x.doc_ok,
      x.first_prev IS NULL, coalesce(NOT k.deleted, false)
    FROM (SELECT a.*, first_value(a.prev) OVER (PARTITION BY a.ns, a.key ORDER BY a.ord) AS first_prev
          FROM unnest(p_ns, p_key, p_vid, p_prev, p_hlc, p_value_id, p_deleted, p_body, p_doc_ok)
            WITH ORDINALITY AS a(ns, key, vid, prev, hlc, value_id, deleted, body, doc_ok, ord)) x
    LEFT JOIN koru_heads k ON x.first_prev IS NOT NULL AND k.ns = x.ns AND k.key = x.key
    ORDER BY x.ns, x.key, x.ord DESC;
  -- Keys written for the first time, in key order: a concurrent batch that created one
  -- first makes this one retry (KR001), never write a second first version.
  INSERT INTO koru_heads (ns, key, version_id, hlc, value_id, deleted, body, doc)
    SELECT l.ns, l.key, l.vid, l.hlc, l.value_id, l.deleted, l.body, CASE WHEN l.doc_ok THEN l.body::jsonb END
    FROM koru_batch_last l WHERE l.is_new ORDER BY l.ns, l.key
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS created = ROW_COUNT;
  SELECT count(*) INTO wanted FROM koru_batch_last WHERE is_new;
  IF created <> wanted THEN
    RAISE EXCEPTION 'koru: a key of the batch was created concurrently' USING ERRCODE = 'KR001';
  END IF;
  UPDATE koru_heads k SET version_id = l.vid, hlc = l.hlc, value_id = l.value_id, deleted = l.deleted,
      body = l.body, doc = CASE WHEN l.doc_ok THEN l.body::jsonb END
    FROM koru_batch_last l WHERE NOT l.is_new AND k.ns = l.ns AND k.key = l.key;
  -- Values, each once, in id order.
  WITH added AS (
    INSERT INTO koru_values (value_id, body)
      SELECT DISTINCT ON (a.value_id) a.value_id, a.body FROM unnest(p_value_id, p_body) AS a(value_id, body)
      WHERE a.value_id IS NOT NULL ORDER BY a.value_id
      ON CONFLICT DO NOTHING RETURNING octet_length(body) AS bytes
  ) SELECT count(*), coalesce(sum(bytes), 0) INTO new_values, new_bytes FROM added;
  -- Namespace counters, in name order: versions, and live keys gained or lost.
  INSERT INTO koru_namespaces AS t (ns, live, versions)
    SELECT v.ns, coalesce(l.delta, 0), v.n
    FROM (SELECT a.ns, count(*) AS n FROM unnest(p_ns) AS a(ns) GROUP BY a.ns) v
    LEFT JOIN (SELECT ns, sum((CASE WHEN deleted THEN 0 ELSE 1 END) - (CASE WHEN was_live THEN 1 ELSE 0 END)) AS delta
               FROM koru_batch_last GROUP BY ns) l ON l.ns = v.ns
    ORDER BY v.ns
    ON CONFLICT (ns) DO UPDATE SET versions = t.versions + excluded.versions, live = t.live + excluded.live;
  DELETE FROM koru_batch_last;
  -- The clock row last: held from here to the commit, it makes seq order commit order.
  UPDATE koru_clock SET seq = seq + n, value_count = value_count + new_values, value_bytes = value_bytes + new_bytes
    RETURNING seq - n + 1 INTO base;
  INSERT INTO koru_versions (seq, ns, key, version_id, prev, value_id, hlc, node, wall, deleted)
    SELECT base + a.ord - 1, a.ns, a.key, a.vid, a.prev, a.value_id, a.hlc, a.node, a.wall, a.deleted
    FROM unnest(p_ns, p_key, p_vid, p_prev, p_value_id, p_hlc, p_node, p_wall, p_deleted)
      WITH ORDINALITY AS a(ns, key, vid, prev, value_id, hlc, node, wall, deleted, ord);
  PERFORM pg_notify('koru_changes', (base + n - 1)::text);
  RETURN QUERY SELECT base, 0, NULL::text, NULL::text, NULL::boolean;
END
$$;
`,
  },
];

/** The newest schema this release knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

// An arbitrary constant of this package: the advisory lock that serializes migrations.
const MIGRATION_LOCK = 7_236_161_521;

/**
 * Brings the schema to {@link SCHEMA_VERSION}, in one transaction per migration run.
 * @throws CorruptionError when the database was migrated past what this release knows
 */
export async function migrate(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS koru_schema (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM koru_schema');
    const current = r.rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new CorruptionError(`the database's KoruDelta schema is version ${current}, newer than this release knows (${SCHEMA_VERSION}): upgrade @koru/storage-postgres`, {
        schema: current,
        known: SCHEMA_VERSION,
      });
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO koru_schema (version) VALUES ($1)', [m.version]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
