/**
 * The web console at `/`: the built `@koru/console` app (`index.html`, hashed files under
 * `assets/`, each compressible one beside its `.br` and `.gz` copies) served by
 * @fastify/static on the API's own origin, so the page passes the Origin checks with no
 * configuration. The files are not secret: they are served without the token (the page
 * signs in and sends the token on its WebSocket); every other route still needs it.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import { consoleAssetsDir } from '@koru/console';
import { ErrorCodes, InvalidArgumentError, KoruError } from '@koru/delta';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, RouteShorthandOptions } from 'fastify';

/** Where the console is: see {@link ServerOptions.console}. */
export interface ConsoleOptions {
  /** The built console's directory (`index.html` and `assets/`). */
  readonly dir: string;
}

/**
 * The console's Content-Security-Policy: scripts, styles and connections from the page's
 * own origin only (CSP3's `'self'` covers the same-origin `ws:`/`wss:` URL of the
 * WebSocket), no framing, no `<base>`, forms post only here.
 */
const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Hashed assets never change under their name: cached for a year. */
const ASSET_MAX_AGE_MS = 31_536_000_000;
/** The copies preCompressed picks by Accept-Encoding; never served by their own name. */
const COMPRESSED = /\.(br|gz)$/i;
/** Top-level files (favicon.svg, robots.txt, …) served by exact routes: plain names with an extension. */
const TOP_LEVEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$/;

/** What {@link consoleDirOf} resolved: the directory and whether the caller named it. */
export interface ConsoleDir {
  readonly dir: string;
  /** False for `@koru/console`'s own directory (which may not be built yet). */
  readonly explicit: boolean;
}

/**
 * The console directory of a server's `console` option: undefined for `false`, the
 * directory of `@koru/console` by default.
 * @throws INVALID_ARGUMENT for anything but `false`, `undefined` or `{ dir }` with a
 * non-empty string naming an existing directory
 */
export function consoleDirOf(option: unknown): ConsoleDir | undefined {
  if (option === false) return undefined;
  if (option === undefined) return { dir: consoleAssetsDir(), explicit: false };
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw new InvalidArgumentError(`console must be { dir } or false, not ${describe(option)}`);
  }
  const unknown = Object.keys(option).filter((k) => k !== 'dir');
  if (unknown.length > 0) throw new InvalidArgumentError(`console has no option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: it takes { dir } or false`);
  const dir = (option as { dir?: unknown }).dir;
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`console.dir must be a directory path, not ${describe(dir)}`);
  const absolute = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(absolute).isDirectory();
  } catch {
    // missing: refused below
  }
  // A directory named on purpose that is not there is a mistake, not a console to build later.
  if (!isDir) throw new InvalidArgumentError(`console.dir ${JSON.stringify(dir)} is not a directory`);
  return { dir: absolute, explicit: true };
}

/** What {@link registerConsole} reports. */
export interface ConsoleRoutes {
  /** Whether `index.html` was there when the server started. */
  readonly built: boolean;
}

/**
 * Serves the console in `dir` at `/` (call after every other route: a top-level file
 * never takes an existing route's place). Adds each route's URL to `consolePaths`, the
 * routes the token check lets through.
 */
export async function registerConsole(app: FastifyInstance, dir: string, consolePaths: Set<string>): Promise<ConsoleRoutes> {
  const index = join(dir, 'index.html');
  const built = isFile(index);
  if (!built) app.log.warn({ dir }, 'the web console is not built: / answers 404 until it is');
  await app.register(async (scope) => {
    // Registered in its own scope: `reply.sendFile` exists only on the console's routes.
    // `serve: false`: the routes below check every path before the plugin sees it.
    await scope.register(fastifyStatic, { root: dir, serve: false, preCompressed: true, index: false, dotfiles: 'ignore', suppressWarning: true });
    scope.setErrorHandler((error: FastifyError, req, reply) => {
      // The plugin's own refusal of a path it finds suspect: the file is simply not here.
      if (error.code === 'FST_STATIC_FORBIDDEN_PATH') return void reply.status(404).send({ error: { code: ErrorCodes.NOT_FOUND, message: `no file ${pathOf(req.url)} in the web console` } });
      return app.errorHandler(error, req, reply);
    });
    // Hidden from the OpenAPI document: these are files, not the API.
    const route: RouteShorthandOptions = { schema: { hide: true } as FastifySchema };
    const page = async (_req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      secure(reply);
      // Looked up on each request: a console built after the start is served at once.
      if (!(await exists(index))) {
        throw new KoruError(ErrorCodes.NOT_FOUND, 'the web console is not built: this server has no index.html to serve (build @koru/console, or turn the console off with --no-console)');
      }
      // Revalidated every time (a cheap 304 by ETag): a new release is picked up at once.
      reply.header('cache-control', 'no-cache');
      return reply.sendFile('index.html', { cacheControl: false });
    };
    for (const url of ['/', '/index.html']) {
      scope.get(url, route, page);
      consolePaths.add(url);
    }
    scope.get('/assets/*', route, async (req, reply) => {
      secure(reply);
      const name = assetName(req.url);
      if (name === undefined) throw new KoruError(ErrorCodes.NOT_FOUND, `no file ${pathOf(req.url)} in the web console`);
      return reply.sendFile(name, { maxAge: ASSET_MAX_AGE_MS, immutable: true });
    });
    consolePaths.add('/assets/*');
    // Files beside index.html (a favicon, say) by exact routes, unhashed, so revalidated.
    for (const name of topLevelFiles(dir)) {
      const url = `/${name}`;
      if (scope.hasRoute({ method: 'GET', url })) continue;
      scope.get(url, route, async (_req, reply) => {
        secure(reply);
        reply.header('cache-control', 'no-cache');
        return reply.sendFile(name, { cacheControl: false });
      });
      consolePaths.add(url);
    }
  });
  return { built };
}

/** The security headers of every console response. */
function secure(reply: FastifyReply): void {
  reply.header('content-security-policy', CONSOLE_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
}

/**
 * `assets/…` for a request path under `/assets/` whose every segment, once decoded, is a
 * plain name; undefined for anything else: `.` and `..` (also as `%2e%2e`), dotfiles,
 * empty segments, encoded slashes, backslashes, control characters (NUL), bad escapes,
 * and the `.br`/`.gz` copies asked for by name. The plugin's own checks stay behind this.
 */
function assetName(url: string): string | undefined {
  const segments = pathOf(url).split('/');
  if (segments[0] !== '' || segments[1] !== 'assets' || segments.length < 3) return undefined;
  const names: string[] = [];
  for (const raw of segments.slice(2)) {
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (name === '' || name.startsWith('.') || /[/\\\u0000-\u001f\u007f]/.test(name)) return undefined;
    names.push(name);
  }
  if (COMPRESSED.test(names[names.length - 1]!)) return undefined;
  return `assets/${names.join('/')}`;
}

/** The path of a request URL (no query). */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The plain files directly in `dir` but index.html and the compressed copies. */
function topLevelFiles(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile() && e.name !== 'index.html' && TOP_LEVEL_NAME.test(e.name) && !COMPRESSED.test(e.name)).map((e) => e.name);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || Array.isArray(value)) return value === null ? 'null' : 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
