/**
 * Two versions of a key side by side, the paths that changed marked on both: the server's
 * structural diff (`diff`), by default the latest version against the one before it.
 */
import type { KoruClient } from '@koru/client';
import { JsonTree, type Mark } from '../json-tree.js';
import { go } from '../route.js';
import { Busy, ErrorNote, formatTime, shortId, useLoad } from '../ui.js';
import type { History } from './key-page.js';

export function KeyDiff({ client, ns, keyName, history, from, to }: { readonly client: KoruClient; readonly ns: string; readonly keyName: string; readonly history: History; readonly from: string | undefined; readonly to: string | undefined }) {
  const last = history[history.length - 1]!;
  const toId = to ?? last.versionId;
  const toIndex = history.findIndex((v) => v.versionId === toId);
  const fromId = from ?? (toIndex > 0 ? history[toIndex - 1]!.versionId : undefined);
  const diff = useLoad(() => client.diff(ns, keyName, { ...(fromId !== undefined ? { from: fromId } : {}), to: toId }), [client, ns, keyName, fromId, toId]);
  const pick = (which: 'from' | 'to', id: string): void =>
    go({ page: 'key', ns, key: keyName, tab: 'diff', ...(which === 'from' ? { from: id, to: toId } : { ...(fromId !== undefined ? { from: fromId } : {}), to: id }) });
  const before = new Map<string, Mark>();
  const after = new Map<string, Mark>();
  for (const c of diff.data?.changes ?? []) {
    if (c.kind !== 'added') before.set(c.path, c.kind);
    if (c.kind !== 'removed') after.set(c.path, c.kind);
  }
  const option = (v: History[number], i: number) => (
    <option key={v.versionId} value={v.versionId}>
      {i + 1}. {shortId(v.versionId)} · {formatTime(v.timestamp)}
      {v.deleted ? ' (deleted)' : ''}
    </option>
  );
  return (
    <div>
      <div class="toolbar">
        <label for="diff-from">From</label>
        <select id="diff-from" value={fromId ?? ''} onChange={(e) => pick('from', e.currentTarget.value)}>
          {fromId === undefined ? <option value="">(nothing: the first version)</option> : null}
          {history.map(option)}
        </select>
        <label for="diff-to">To</label>
        <select id="diff-to" value={toId} onChange={(e) => pick('to', e.currentTarget.value)}>
          {history.map(option)}
        </select>
      </div>
      {diff.error !== undefined ? <ErrorNote error={diff.error} /> : null}
      <Busy loading={diff.loading && diff.data === undefined}>
        {diff.data !== undefined ? (
          <>
            <h2 class="visually-hidden">Changes</h2>
            {diff.data.changes.length === 0 ? (
              <p>The two versions hold the same value.</p>
            ) : (
              <ul class="changes" aria-label="Changed paths">
                {diff.data.changes.map((c) => (
                  <li key={`${c.kind}${c.path}`} class={`mark-${c.kind}`}>
                    <span class="badge">{c.kind}</span> <code>{c.path === '' ? '(the whole value)' : c.path}</code>
                  </li>
                ))}
              </ul>
            )}
            <div class="side-by-side">
              <div>
                <h2>{diff.data.from === null ? 'Before: nothing' : `Before: ${shortId(diff.data.from.versionId)}`}</h2>
                {diff.data.from !== null && !diff.data.from.deleted ? <JsonTree value={diff.data.from.value} marks={before} label="Value before" /> : <p class="muted">{diff.data.from === null ? 'No earlier version.' : 'Deleted.'}</p>}
              </div>
              <div>
                <h2>After: {shortId(diff.data.to.versionId)}</h2>
                {!diff.data.to.deleted ? <JsonTree value={diff.data.to.value} marks={after} label="Value after" /> : <p class="muted">Deleted.</p>}
              </div>
            </div>
          </>
        ) : null}
      </Busy>
    </div>
  );
}
