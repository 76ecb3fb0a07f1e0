/**
 * A sync's persisted cursors, one local-state record per server node
 * (`CausalStorage.setLocalState`, not versions: they must not grow history):
 *   - `pull`: the server seq pulled through (changes after it are still to pull);
 *   - `push`: the local seq through which every local version was acknowledged.
 * Both are per server node id (from the server's welcome): another server — or the
 * same address now served by another node — starts over from 0, which is correct
 * because merges skip what is there already. They also record the namespaces synced:
 * a different selection starts over too (a narrower one missed the others' changes).
 */
import type { CausalStorage } from '@koru/storage';

/** Where a sync with one server stands. */
export interface Cursors {
  readonly pull: number;
  readonly push: number;
}

const START: Cursors = Object.freeze({ pull: 0, push: 0 });

function nameOf(serverNode: string): string {
  return `koru.sync/${serverNode}`;
}

function selection(namespaces: ReadonlySet<string> | undefined): string[] | null {
  return namespaces === undefined ? null : [...namespaces].sort();
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** The cursors stored for `serverNode` and this namespace selection (0, 0 when none or another selection). */
export function loadCursors(storage: CausalStorage, serverNode: string, namespaces: ReadonlySet<string> | undefined): Cursors {
  const stored = storage.localState(nameOf(serverNode)) as { pull?: unknown; push?: unknown; namespaces?: unknown } | undefined;
  if (stored === undefined || stored === null || typeof stored !== 'object') return START;
  if (JSON.stringify(stored.namespaces ?? null) !== JSON.stringify(selection(namespaces))) return START;
  // A cursor beyond the local seq was written by a store that lost writes since (restored
  // from an older copy): pushing starts over.
  const push = isCount(stored.push) && stored.push <= storage.seq ? stored.push : 0;
  return { pull: isCount(stored.pull) ? stored.pull : 0, push };
}

/** Stores the cursors for `serverNode` and this namespace selection. */
export function saveCursors(storage: CausalStorage, serverNode: string, namespaces: ReadonlySet<string> | undefined, c: Cursors): void {
  storage.setLocalState(nameOf(serverNode), { pull: c.pull, push: c.push, namespaces: selection(namespaces) });
}

const LAST = 'koru.sync/last';

/** The server node last synced with at `url` (to count what is pending before its welcome), if any. */
export function lastServer(storage: CausalStorage, url: string): string | undefined {
  const stored = storage.localState(LAST) as { url?: unknown; node?: unknown } | undefined;
  return stored !== undefined && stored !== null && stored.url === url && typeof stored.node === 'string' ? stored.node : undefined;
}

/** Remembers `node` as the server at `url`. */
export function saveLastServer(storage: CausalStorage, url: string, node: string): void {
  if (lastServer(storage, url) !== node) storage.setLocalState(LAST, { url, node });
}
