/** The REST API under /v1 (PROTOCOL.md): thin handlers over the database. */
import { InvalidArgumentError, type AckLevel, type PutOptions, type RetentionPolicy, type Version } from '@koru/delta';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { conditionally } from './preconditions.js';
import { clusterPeers, serverStatus, type ServerContext } from './server-calls.js';

type KeyParams = { ns: string; key: string };

// Request shapes, checked at the edge (Fastify's JSON-schema validation) before a handler
// runs: unknown parameters are refused rather than ignored. Names, keys, values and
// queries are then checked by the database itself, with its own error codes.
const str = { type: 'string' } as const;
const query = (properties: Record<string, unknown>) => ({ querystring: { type: 'object', properties, additionalProperties: false } });
const body = (properties: Record<string, unknown>, required: readonly string[] = []) => ({
  body: { type: 'object', properties, required, additionalProperties: false },
});
const AT = query({ at: str });
/** `?ack=local|quorum|all` on writes. */
const ACK = query({ ack: { type: 'string', enum: ['local', 'quorum', 'all'] } });
/** A route's options: its one-line summary (for the OpenAPI document) and its request schemas. */
const route = (summary: string, schema: FastifySchema = {}) => ({ schema: { summary, ...schema } });

/** A write's acknowledgement level from the query (compare-and-set comes from the headers: preconditions.ts). */
function ackOf(req: FastifyRequest<{ Querystring: { ack?: AckLevel } }>): PutOptions | undefined {
  return req.query.ack !== undefined ? { ack: req.query.ack } : undefined;
}

/** A version without its value: what writes return. */
function meta(v: Version): Omit<Version, 'value'> {
  const { value: _value, ...rest } = v;
  return rest;
}

function etag(reply: FastifyReply, v: Version): void {
  reply.header('etag', `"${v.versionId}"`);
  reply.header('x-koru-timestamp', v.timestamp);
}

/** A query-string time or history index: digits are epoch ms or an index, anything else a time. */
function refOf(text: string | undefined): string | number | undefined {
  if (text === undefined) return undefined;
  return /^-?\d+$/.test(text) && Math.abs(Number(text)) < 1e9 ? Number(text) : text;
}

function limitOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`limit must be a non-negative integer, not ${JSON.stringify(text)}`);
  return Number(text);
}

export function registerRest(app: FastifyInstance, ctx: ServerContext): void {
  const { db, metrics } = ctx;
  app.put<{ Params: KeyParams; Querystring: { ack?: AckLevel } }>('/v1/kv/:ns/:key', route('Write a new version of a key (If-Match: compare-and-set)', ACK), async (req, reply) => {
    const v = await conditionally(db, req.params.ns, req.params.key, req.headers, ackOf(req), (options) => db.put(req.params.ns, req.params.key, req.body, options));
    metrics.writes.inc();
    etag(reply, v);
    return meta(v);
  });
  /** The version a GET names: current, or at `?at=`. */
  const versionOf = (req: FastifyRequest<{ Params: KeyParams; Querystring: { at?: string } }>): Promise<Version> => {
    const { ns, key } = req.params;
    return req.query.at !== undefined ? db.getAt(ns, key, req.query.at) : db.getVersion(ns, key);
  };
  app.get<{ Params: KeyParams; Querystring: { at?: string } }>('/v1/kv/:ns/:key', route("A key's current value, or its value at a time", AT), async (req, reply) => {
    const v = await versionOf(req);
    etag(reply, v);
    return reply.type('application/json').send(JSON.stringify(v.value));
  });
  app.delete<{ Params: KeyParams; Querystring: { ack?: AckLevel } }>('/v1/kv/:ns/:key', route('Delete a key (writes a tombstone version)', ACK), async (req, reply) => {
    const v = await conditionally(db, req.params.ns, req.params.key, req.headers, ackOf(req), (options) => db.delete(req.params.ns, req.params.key, options));
    metrics.writes.inc();
    etag(reply, v);
    return meta(v);
  });
  app.get<{ Params: KeyParams; Querystring: { at?: string } }>('/v1/kv/:ns/:key/versions/current', route("A key's current version with its value, or the version at a time", AT), async (req, reply) => {
    const v = await versionOf(req);
    etag(reply, v);
    return v;
  });
  app.get<{ Params: KeyParams; Querystring: { limit?: string } }>('/v1/kv/:ns/:key/history', route("A key's versions, oldest first", query({ limit: str })), async (req) => {
    const limit = limitOf(req.query.limit);
    return db.history(req.params.ns, req.params.key, limit !== undefined ? { limit } : {});
  });
  app.get<{ Params: KeyParams; Querystring: { from?: string; to?: string } }>('/v1/kv/:ns/:key/diff', route('The difference between two versions of a key', query({ from: str, to: str })), async (req) => {
    const from = refOf(req.query.from);
    const to = refOf(req.query.to);
    return db.diff(req.params.ns, req.params.key, { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  });
  app.get('/v1/ns', route('The namespaces'), async () => db.listNamespaces());
  app.get<{ Params: { ns: string }; Querystring: { prefix?: string; after?: string; limit?: string } }>(
    '/v1/ns/:ns/keys',
    route("A namespace's live keys in key order: all, or one page (?prefix=, ?after= the previous page's last key, ?limit= 1 to 100,000)", query({ prefix: str, after: str, limit: str })),
    async (req) => {
      const { prefix, after } = req.query;
      const limit = limitOf(req.query.limit);
      return db.listKeys(req.params.ns, { ...(prefix !== undefined ? { prefix } : {}), ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}) });
    },
  );
  app.get<{ Params: { ns: string } }>('/v1/ns/:ns/count', route("A namespace's live-key count: { keys }", query({})), async (req) => ({ keys: await db.countKeys(req.params.ns) }));
  app.post<{ Params: { ns: string }; Querystring: { at?: string } }>('/v1/query/:ns', route('Query a namespace (filter, sort, page, project), now or at a time', AT), async (req) =>
    db.query(req.params.ns, req.body ?? {}, req.query.at !== undefined ? { at: req.query.at } : {}),
  );
  app.post<{ Params: { ns: string }; Body: { aggregation?: unknown; filter?: unknown; at?: string } }>(
    '/v1/aggregate/:ns',
    route('Aggregate the documents of a namespace', body({ aggregation: { type: 'object' }, filter: {}, at: { anyOf: [str, { type: 'number' }] } }, ['aggregation'])),
    // The schema guarantees an object with `aggregation`.
    async (req) => {
      const { aggregation, filter, at } = req.body;
      return db.aggregate(req.params.ns, aggregation as never, {
        ...(filter !== undefined ? { filter } : {}),
        ...(at !== undefined ? { at } : {}),
      });
    },
  );
  app.get('/v1/views', route('The views'), async () => db.listViews());
  app.post(
    '/v1/views',
    route(
      'Create a view',
      body({ name: str, namespace: str, query: {}, aggregate: { type: 'object' }, description: str, autoRefresh: { type: 'boolean' } }, ['name', 'namespace']),
    ),
    async (req) => db.createView(req.body as never));
  app.get<{ Params: { name: string } }>('/v1/views/:name', route("A view's rows"), async (req) => db.queryView(req.params.name));
  app.post<{ Params: { name: string } }>('/v1/views/:name/refresh', route('Recompute a view'), async (req) => db.refreshView(req.params.name));
  app.delete<{ Params: { name: string } }>('/v1/views/:name', route('Delete a view'), async (req) => {
    await db.deleteView(req.params.name);
    return { deleted: req.params.name };
  });
  app.get<{ Querystring: { namespace?: string } }>('/v1/indexes', route('The indexes, of one namespace or all', query({ namespace: str })), async (req) => db.listIndexes(req.query.namespace));
  app.post<{ Body: { namespace: string; field: string } }>('/v1/indexes', route('Index a field of a namespace', body({ namespace: str, field: str }, ['namespace', 'field'])), async (req) =>
    db.createIndex(req.body.namespace, req.body.field),
  );
  app.delete<{ Params: { ns: string; field: string } }>('/v1/indexes/:ns/:field', route('Drop an index'), async (req) => {
    await db.dropIndex(req.params.ns, req.params.field);
    return { dropped: { namespace: req.params.ns, field: req.params.field } };
  });
  // Retention and purge (admin writes, behind the same token as every route). The policy
  // body is checked here for its shape; its numbers are checked by the database itself.
  const positive = { type: 'integer', minimum: 1 } as const;
  const POLICY = {
    body: {
      oneOf: [
        { type: 'object', properties: { keep: { const: 'all' } }, required: ['keep'], additionalProperties: false },
        { type: 'object', properties: { lastVersions: positive }, required: ['lastVersions'], additionalProperties: false },
        { type: 'object', properties: { maxAgeMs: positive }, required: ['maxAgeMs'], additionalProperties: false },
      ],
    },
  };
  app.get('/v1/retention', route('Every namespace with a retention policy other than keep-all'), async () => db.retentionPolicies());
  app.get<{ Params: { ns: string } }>('/v1/retention/:ns', route("A namespace's retention policy"), async (req) => db.retention(req.params.ns));
  app.put<{ Params: { ns: string }; Body: RetentionPolicy }>('/v1/retention/:ns', route("Set a namespace's retention policy: { keep: 'all' }, { lastVersions } or { maxAgeMs }", POLICY), async (req) =>
    db.setRetention(req.params.ns, req.body),
  );
  app.post<{ Params: KeyParams }>('/v1/kv/:ns/:key/purge', route("Erase a key's history (an erasure request): delete it and remove every older version"), async (req) => {
    const r = await db.purge(req.params.ns, req.params.key);
    metrics.writes.inc();
    return r;
  });
  // The same answers as the serverStatus and clusterPeers WebSocket calls (server-calls.ts).
  app.get('/v1/status', route('Version, node, uptime, storage figures, state root and cluster size'), async () => serverStatus(ctx));
  app.get('/v1/cluster/peers', route('The other cluster members and how they are doing'), async () => clusterPeers(ctx));
  app.get('/healthz', route('Liveness: 200 while the process serves'), async () => ({ ok: true }));
  app.get('/metrics', route('Prometheus metrics of the server and the process'), async (_req, reply) => {
    reply.type(metrics.contentType);
    return metrics.text();
  });
}
