/**
 * 405 for a method a known route does not have (RFC 9110 §15.5.6), with the `Allow`
 * header listing those it has; a path no route matches stays 404.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * Starts recording `app`'s routes (call before registering them). The returned function
 * gives the methods the route at `path` has (empty: no route there).
 */
export function trackMethods(app: FastifyInstance): (path: string) => string[] {
  const routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (r: RouteOptions) => {
    // The CORS plugin's catch-all OPTIONS route says nothing about which paths exist.
    if (r.url.includes('*')) return;
    let methods = byUrl.get(r.url);
    if (methods === undefined) {
      methods = new Set();
      byUrl.set(r.url, methods);
      const source = r.url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
      routes.push({ pattern: new RegExp(`^${source}$`), methods });
    }
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) methods.add(m);
    // Fastify answers HEAD for every GET.
    if (methods.has('GET')) methods.add('HEAD');
  });
  return (path) => {
    const found = new Set<string>();
    for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) found.add(m);
    return [...found].sort();
  };
}
