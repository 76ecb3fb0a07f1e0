/**
 * The console's pages as URL fragments (`#/ns/users/k/alice/history`), so every page has
 * an address to bookmark or share and the server serves one file for all of them. Each
 * segment is URL-encoded once: any namespace or key round-trips.
 */
import { useEffect, useState } from 'preact/hooks';

/** The tabs of a key's page. */
export type KeyTab = 'value' | 'history' | 'diff' | 'edit';
export const KEY_TABS: readonly KeyTab[] = ['value', 'history', 'diff', 'edit'];

/** A page of the console. */
export type Route =
  | { readonly page: 'namespaces' }
  | { readonly page: 'live' }
  | { readonly page: 'views' }
  | { readonly page: 'cluster' }
  | { readonly page: 'query'; readonly ns?: string }
  | { readonly page: 'keys'; readonly ns: string }
  | { readonly page: 'key'; readonly ns: string; readonly key: string; readonly tab: KeyTab; readonly from?: string; readonly to?: string };

/** The fragment of `route`, `#` included. */
export function hrefOf(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case 'namespaces':
      return '#/';
    case 'live':
      return '#/live';
    case 'views':
      return '#/views';
    case 'cluster':
      return '#/cluster';
    case 'query':
      return route.ns === undefined ? '#/query' : `#/query/${e(route.ns)}`;
    case 'keys':
      return `#/ns/${e(route.ns)}`;
    case 'key': {
      const q = new URLSearchParams();
      if (route.from !== undefined) q.set('from', route.from);
      if (route.to !== undefined) q.set('to', route.to);
      const query = q.size > 0 ? `?${q.toString()}` : '';
      return `#/ns/${e(route.ns)}/k/${e(route.key)}/${route.tab}${query}`;
    }
  }
}

/** The route of a fragment; anything unknown is the namespaces page. */
export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2);
  const parts = path.split('/').filter((p, i) => i > 0 || p !== '');
  let d: string[];
  try {
    d = parts.map((p) => decodeURIComponent(p));
  } catch {
    return { page: 'namespaces' };
  }
  if (d[0] === 'live' && d.length === 1) return { page: 'live' };
  if (d[0] === 'views' && d.length === 1) return { page: 'views' };
  if (d[0] === 'cluster' && d.length === 1) return { page: 'cluster' };
  if (d[0] === 'query' && d.length <= 2) return d[1] === undefined || d[1] === '' ? { page: 'query' } : { page: 'query', ns: d[1] };
  if (d[0] !== 'ns' || d[1] === undefined || d[1] === '') return { page: 'namespaces' };
  if (d.length === 2) return { page: 'keys', ns: d[1] };
  if (d[2] === 'k' && d[3] !== undefined && d[3] !== '') {
    const tab = KEY_TABS.find((t) => t === d[4]) ?? 'value';
    const q = new URLSearchParams(query);
    const from = q.get('from') ?? undefined;
    const to = q.get('to') ?? undefined;
    return { page: 'key', ns: d[1], key: d[3], tab, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
  }
  return { page: 'namespaces' };
}

/** The current route, following the fragment. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Goes to `route` (a new history entry). */
export function go(route: Route): void {
  location.hash = hrefOf(route);
}
