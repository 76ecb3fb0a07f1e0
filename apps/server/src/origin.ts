/**
 * Which web origins and which `Host` names a server answers to. A browser sends any page's
 * requests to a server on the visitor's machine: `Origin` says which page asked, and a
 * `Host` the server does not know is the mark of DNS rebinding (a hostile name resolved to
 * 127.0.0.1). Pure functions: the wiring is in browser-guard.ts.
 */
import { InvalidArgumentError } from '@koru/delta';
import { isLoopback } from './auth.js';

/** The origin of an `Origin` value or allow-list entry: `scheme://host[:port]`, lower case, default port left out. */
export function normalizeOrigin(text: string): string | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'null') return 'null';
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) return undefined;
  // URL.origin is "null" for schemes other than http(s), ws(s), ftp: keep those as written.
  return url.origin !== 'null' ? url.origin : t.replace(/\/$/, '');
}

/**
 * An allow-list of origins from flags or the environment: each value a comma list of
 * `scheme://host[:port]` origins, or `*` (any origin; only when given explicitly).
 * @throws INVALID_ARGUMENT naming `source` for a value that is not an origin
 */
export function parseAllowOrigins(values: readonly string[], source: string): string[] {
  const out: string[] = [];
  for (const part of values.flatMap((v) => v.split(','))) {
    const t = part.trim();
    if (t === '') continue;
    if (t === '*') {
      out.push('*');
      continue;
    }
    const origin = normalizeOrigin(t);
    if (origin === undefined) throw new InvalidArgumentError(`${source} ${JSON.stringify(t)} is not an origin: give scheme://host[:port], e.g. http://localhost:3000, or *`);
    out.push(origin);
  }
  return [...new Set(out)];
}

/**
 * An allow-list of host names from flags or the environment: comma lists of `name` (any
 * port) or `name:port`, lower case.
 * @throws INVALID_ARGUMENT naming `source`
 */
export function parseAllowHosts(values: readonly string[], source: string): string[] {
  const out: string[] = [];
  for (const part of values.flatMap((v) => v.split(','))) {
    const t = part.trim().toLowerCase();
    if (t === '') continue;
    if (splitHost(t) === undefined) throw new InvalidArgumentError(`${source} ${JSON.stringify(part.trim())} is not a host name: give NAME or NAME:PORT`);
    out.push(t);
  }
  return [...new Set(out)];
}

/** `name[:port]` or `[v6][:port]` → its parts; undefined when it is neither. */
function splitHost(text: string): { name: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/.exec(text);
  if (m === null) return undefined;
  return { name: m[1]!, port: m[2] !== undefined ? Number(m[2]) : undefined };
}

/** What a server accepts from browsers; see {@link originPolicy}. */
export interface OriginPolicy {
  /**
   * Why a request with these headers is refused (a sentence), or undefined when it may
   * proceed.
   */
  refusal(headers: { readonly host?: string | undefined; readonly origin?: string | undefined }): string | undefined;
  /** True when `origin` is on the allow-list (CORS headers are sent for it). */
  allowsOrigin(origin: string): boolean;
}

/**
 * The policy of a server bound to `host` (allow-lists as {@link parseAllowOrigins} and
 * {@link parseAllowHosts} give them). `Host` is checked when the bind is loopback
 * (loopback names and the bound host, plus `allowHosts`) or when
 * `allowHosts` is given; otherwise any `Host` is served (the token protects such binds).
 * A request carrying `Origin` passes when that origin is the server's own (its host and
 * port are the `Host` asked for) or on `allowOrigins`; requests without one (curl, the
 * client, kdelta, cluster members) are not browsers' and pass.
 */
export function originPolicy(o: { readonly host: string; readonly allowOrigins?: readonly string[] | undefined; readonly allowHosts?: readonly string[] | undefined }): OriginPolicy {
  const anyOrigin = o.allowOrigins?.includes('*') === true;
  const origins = new Set(o.allowOrigins ?? []);
  const allowHosts = o.allowHosts ?? [];
  const checkHost = isLoopback(o.host) || allowHosts.length > 0;
  const bound = o.host.includes(':') && !o.host.startsWith('[') ? `[${o.host}]` : o.host.toLowerCase();
  const ownNames = isLoopback(o.host) ? new Set(['localhost', '127.0.0.1', '[::1]', bound]) : new Set<string>();
  // Loopback names pass on any port: a proxy or relay on this machine forwards its own
  // port, and a page on another loopback port is another origin, refused by `Origin`.
  // What DNS rebinding changes is the name.
  // Clients send the same few Host values on every request: remember the ones that
  // passed (bounded, so a flood of distinct names cannot grow it).
  const passedHosts = new Set<string>();
  const hostAllowed = (header: string): boolean => {
    if (passedHosts.has(header)) return true;
    const ok = hostPasses(header);
    if (ok && passedHosts.size < 64) passedHosts.add(header);
    return ok;
  };
  const hostPasses = (header: string): boolean => {
    const parsed = splitHost(header.trim().toLowerCase().replace(/\.$/, ''));
    if (parsed === undefined) return false;
    if (ownNames.has(parsed.name)) return true;
    return allowHosts.some((entry) => entry === parsed.name || (parsed.port !== undefined && entry === `${parsed.name}:${parsed.port}`));
  };
  const allowsOrigin = (origin: string): boolean => {
    if (anyOrigin) return true;
    const n = normalizeOrigin(origin);
    return n !== undefined && origins.has(n);
  };
  return {
    allowsOrigin,
    refusal(headers) {
      const host = headers.host;
      if (checkHost && host !== undefined && !hostAllowed(host)) {
        return `this server does not answer to the host name ${JSON.stringify(host)} (a page on another site may be reaching it through DNS rebinding); name it by a loopback address, or allow the name with --allow-host`;
      }
      const origin = headers.origin;
      if (origin === undefined || allowsOrigin(origin)) return undefined;
      if (host !== undefined && origin !== 'null') {
        try {
          if (new URL(origin).host.toLowerCase() === host.trim().toLowerCase()) return undefined;
        } catch {
          // not a URL: refused below
        }
      }
      return `requests from the web origin ${JSON.stringify(origin)} are not allowed; allow it with --allow-origin (or KORU_ALLOW_ORIGIN)`;
    },
  };
}
