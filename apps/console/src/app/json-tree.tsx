/**
 * A JSON value as a tree: objects and arrays fold (native `<details>`, so keyboard and
 * screen readers work without scripts), the whole value and each object or array in it
 * can be copied, and the paths a diff names are marked. Paths are JSON Pointers
 * (RFC 6901), as the server's diff gives them.
 */
import type { JsonValue } from '@koru/client';
import { CopyButton } from './ui.js';

/** How a path changed, for highlighting. */
export type Mark = 'added' | 'removed' | 'changed';

/** `/a/b~1c` from the segments `a`, `b/c`. */
export function pointerOf(parent: string, segment: string | number): string {
  return `${parent}/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function Scalar({ value }: { readonly value: JsonValue }) {
  if (value === null) return <span class="j-null">null</span>;
  if (typeof value === 'string') return <span class="j-string">{JSON.stringify(value)}</span>;
  if (typeof value === 'number') return <span class="j-number">{String(value)}</span>;
  return <span class="j-bool">{String(value)}</span>;
}

/** True when a mark sits at `path` or below it (so a folded node shows that it holds a change). */
function holdsMark(marks: ReadonlyMap<string, Mark> | undefined, path: string): boolean {
  if (marks === undefined) return false;
  for (const p of marks.keys()) if (p === path || p.startsWith(`${path}/`)) return true;
  return false;
}

function Node({ name, value, path, marks, depth, label: tree }: { readonly name?: string; readonly value: JsonValue; readonly path: string; readonly marks: ReadonlyMap<string, Mark> | undefined; readonly depth: number; readonly label: string }) {
  const mark = marks?.get(path);
  const cls = mark !== undefined ? `j-node mark-${mark}` : 'j-node';
  const label = name !== undefined ? <span class="j-key">{name}: </span> : null;
  if (value === null || typeof value !== 'object') {
    return (
      <li class={cls} data-path={path}>
        {label}
        <Scalar value={value} />
        {mark !== undefined ? <span class="visually-hidden"> ({mark})</span> : null}
      </li>
    );
  }
  const entries: Array<[string, JsonValue]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const open = depth < 2 || holdsMark(marks, path);
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return (
    <li class={cls} data-path={path}>
      <details open={open}>
        <summary>
          {label}
          <span class="muted">{summary}</span>
          {mark !== undefined ? <span class="visually-hidden"> ({mark})</span> : null}
        </summary>
        <ul class="j-children">
          {entries.map(([k, v]) => (
            <Node key={k} name={k} value={v} path={pointerOf(path, k)} marks={marks} depth={depth + 1} label={tree} />
          ))}
        </ul>
      </details>
      {/* Outside <details> (no control inside a <summary>), so a folded part can be copied too; the root's button is the tree's own. */}
      {path !== '' ? (
        <span class="j-copy">
          <CopyButton text={() => JSON.stringify(value, null, 2)} label={`Copy ${path} of ${tree} as JSON`} />
        </span>
      ) : null}
    </li>
  );
}

/** The tree of `value`, with a copy button for the whole value. */
export function JsonTree({ value, marks, label }: { readonly value: JsonValue; readonly marks?: ReadonlyMap<string, Mark>; readonly label: string }) {
  return (
    <div class="json">
      <div class="json-tools">
        <CopyButton text={() => JSON.stringify(value, null, 2)} label={`Copy ${label} as JSON`} />
      </div>
      <ul class="j-root" aria-label={label}>
        <Node value={value} path="" marks={marks} depth={0} label={label} />
      </ul>
    </div>
  );
}
