/**
 * A key's versions as a timeline, newest first, each linked to the one it superseded (the
 * hash chain), with a check run in the page (chain.ts) and two versions picked to diff.
 */
import { useState } from 'preact/hooks';
import { checkChain, type LinkCheck } from '../chain.js';
import { go } from '../route.js';
import { formatTime, plural, shortId } from '../ui.js';
import type { History } from './key-page.js';

export function KeyHistory({ ns, keyName, history, partial }: { readonly ns: string; readonly keyName: string; readonly history: History; readonly partial: boolean }) {
  const [checks, setChecks] = useState<readonly LinkCheck[] | undefined>();
  const [picked, setPicked] = useState<readonly string[]>([]);
  const broken = checks?.filter((c) => c.problems.length > 0).length ?? 0;
  const rows = history.map((v, i) => ({ v, i, check: checks?.[i] })).reverse();
  const toggle = (id: string): void => setPicked(picked.includes(id) ? picked.filter((p) => p !== id) : [...picked.slice(-1), id]);
  const compare = (): void => {
    const [a, b] = picked.map((id) => history.findIndex((v) => v.versionId === id)).sort((x, y) => x - y);
    go({ page: 'key', ns, key: keyName, tab: 'diff', from: history[a!]!.versionId, to: history[b!]!.versionId });
  };
  return (
    <div>
      <div class="toolbar">
        <button type="button" onClick={() => setChecks(checkChain(history, partial))}>
          Verify chain
        </button>
        <button type="button" disabled={picked.length !== 2} onClick={compare}>
          Compare selected
        </button>
        <span role="status" class={checks === undefined ? 'muted' : broken === 0 ? 'ok' : 'error'}>
          {checks === undefined
            ? plural(history.length, 'version')
            : broken === 0
              ? `Verified: ${plural(history.length, 'version')}, every id recomputed in this page and every link intact.`
              : `${broken} of ${plural(history.length, 'version')} ${broken === 1 ? 'fails' : 'fail'} the check.`}
        </span>
      </div>
      <ol class="timeline" reversed aria-label={`Versions of ${keyName}, newest first`}>
        {rows.map(({ v, i, check }) => (
          <li key={v.versionId} class={v.deleted ? 'tombstone' : undefined}>
            <div class="tl-head">
              <input type="checkbox" id={`pick-${i}`} checked={picked.includes(v.versionId)} onChange={() => toggle(v.versionId)} />
              <label for={`pick-${i}`}>
                <code title={v.versionId}>{shortId(v.versionId)}</code>
                {v.deleted ? <span class="badge">deleted</span> : null}
              </label>
              <time dateTime={v.timestamp}>{formatTime(v.timestamp)} UTC</time>
            </div>
            <dl class="tl-meta">
              <dt>hlc</dt>
              <dd>
                <code>{v.hlc}</code>
              </dd>
              <dt>node</dt>
              <dd>
                <code>{v.node}</code>
              </dd>
              <dt>previous</dt>
              <dd>
                <code title={v.previousVersion ?? 'none: the first version'}>{v.previousVersion === null ? 'none (first)' : shortId(v.previousVersion)}</code>
              </dd>
            </dl>
            {check !== undefined ? (
              check.problems.length === 0 ? (
                <p class="ok">✓ ids and link verified</p>
              ) : (
                <ul class="error">
                  {check.problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              )
            ) : null}
          </li>
        ))}
      </ol>
    </div>
  );
}
