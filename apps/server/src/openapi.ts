/**
 * The OpenAPI 3.1 document of the REST API, generated from the routes as they are
 * registered (their paths, methods and Fastify JSON schemas), so it cannot drift from
 * what the server answers. Served at `GET /v1/openapi.json`; built once, on first request.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifySchema {
    /** One line saying what the route does: the operation's summary in the OpenAPI document. */
    summary?: string;
  }
}

/** The OpenAPI version the document declares. */
export const OPENAPI_VERSION = '3.1.0';

type Schema = Record<string, unknown>;

interface Collected {
  readonly method: string;
  readonly url: string;
  readonly schema: Schema | undefined;
}

/** Methods that carry a request body. */
const WITH_BODY = new Set(['put', 'post', 'patch']);
/** Routes whose answer is not JSON. */
const TEXT_ROUTES = new Set(['/metrics']);
/** Routes whose answer is JSON lines (one JSON object per line, streamed). */
const NDJSON_ROUTES = new Set(['/v1/export']);

/** What every error response looks like (PROTOCOL.md). */
const ERROR_SCHEMA: Schema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
    },
  },
};

/**
 * Starts collecting `app`'s routes (call before registering them); `serve()` then adds
 * `GET /v1/openapi.json`. Routes registered after `serve()` are listed too: the document
 * is built on first request.
 */
export function registerOpenApi(app: FastifyInstance, o: { readonly version: string; readonly tokenRequired: boolean }): { serve(): void } {
  const routes: Collected[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    // `schema.hide` (as @fastify/swagger reads it): the web console's files, not API.
    if ((r.schema as { hide?: boolean } | undefined)?.hide === true) return;
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      // Fastify adds a HEAD route for each GET: it is implied, not an operation of its own.
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      routes.push({ method: method.toLowerCase(), url: r.url, schema: r.schema as Schema | undefined });
    }
  });
  let doc: string | undefined;
  return {
    serve() {
      app.get('/v1/openapi.json', { schema: { summary: 'This document (OpenAPI 3.1)' } }, async (_req, reply) => {
        doc ??= JSON.stringify(openApiDocument(routes, o));
        return reply.type('application/json').send(doc);
      });
    },
  };
}

/** The document for `routes`. O(routes). */
function openApiDocument(routes: readonly Collected[], o: { readonly version: string; readonly tokenRequired: boolean }): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const r of routes) {
    const { path, params } = openApiPath(r.url);
    const op: Schema = {
      operationId: operationId(r.method, r.url),
      ...(r.schema?.summary !== undefined ? { summary: r.schema.summary } : {}),
      parameters: [...params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })), ...queryParameters(r.schema?.querystring as Schema | undefined)],
      responses: responsesOf(r.url),
      // The probes answer without a token.
      ...(r.url === '/healthz' || r.url === '/readyz' ? { security: [] } : {}),
    };
    if (WITH_BODY.has(r.method)) {
      // A route without a body schema takes any JSON value (a stored value, a query).
      op.requestBody = { required: r.schema?.body !== undefined, content: { 'application/json': { schema: (r.schema?.body as Schema | undefined) ?? {} } } };
      // Any other declared type is refused before the body is read (browser-guard.ts).
      (op.responses as Schema)['415'] = { description: 'The body is not sent as Content-Type: application/json (UNSUPPORTED_MEDIA_TYPE)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: OPENAPI_VERSION,
    info: { title: 'KoruDelta', version: o.version, description: 'KoruDelta over HTTP: every write an immutable, content-addressed version. See PROTOCOL.md.' },
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The server token (--token / KORU_TOKEN)' } },
    },
    ...(o.tokenRequired ? { security: [{ bearer: [] }] } : {}),
  };
}

/** `/v1/kv/:ns/:key` → `/v1/kv/{ns}/{key}` and its parameter names. */
function openApiPath(url: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path, params };
}

/** A query-string schema's properties as query parameters. */
function queryParameters(querystring: Schema | undefined): Schema[] {
  const properties = (querystring?.properties ?? {}) as Record<string, Schema>;
  const required = new Set((querystring?.required ?? []) as string[]);
  return Object.entries(properties).map(([name, schema]) => ({ name, in: 'query', required: required.has(name), schema }));
}

function responsesOf(url: string): Schema {
  const ok = TEXT_ROUTES.has(url)
    ? { description: 'Prometheus text exposition', content: { 'text/plain': { schema: { type: 'string' } } } }
    : NDJSON_ROUTES.has(url)
      ? { description: 'JSON lines, one object per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }
      : { description: 'Success', content: { 'application/json': { schema: {} } } };
  return {
    '200': ok,
    ...(url === '/readyz' ? { '503': { description: 'Starting or stopping', content: { 'application/json': { schema: {} } } } } : {}),
    default: { description: 'An error (PROTOCOL.md)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  };
}

/** A unique, readable id: `GET /v1/kv/:ns/:key/history` → `getV1KvNsKeyHistory`. */
function operationId(method: string, url: string): string {
  const words = url.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}
