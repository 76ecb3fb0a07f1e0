/**
 * A namespace's keys, a page at a time: the server seeks to the page's first key (the
 * last key of the page before, or the search prefix), so a page costs the same at key
 * 10 and at key 100,000. Search is by prefix, in key order.
 */
import type { KoruClient } from '@koru/client';
import { useEffect, useState } from 'preact/hooks';
import { go, hrefOf } from '../route.js';
import { Busy, ErrorNote, plural, useLoad } from '../ui.js';
import { NewKey } from './new-key.js';

/** Keys on one page. */
export const PAGE_SIZE = 50;

export function Keys({ client, ns }: { readonly client: KoruClient; readonly ns: string }) {
  const [typed, setTyped] = useState('');
  const [prefix, setPrefix] = useState('');
  // The `after` of each page shown so far: [undefined] is the first page.
  const [cursors, setCursors] = useState<ReadonlyArray<string | undefined>>([undefined]);
  const after = cursors[cursors.length - 1];

  useEffect(() => {
    const t = setTimeout(() => {
      setPrefix(typed);
      setCursors([undefined]);
    }, 150);
    return () => clearTimeout(t);
  }, [typed]);

  const page = useLoad(async () => {
    const started = performance.now();
    // One more than a page tells whether a next page exists.
    const keys = await client.listKeys(ns, { ...(prefix !== '' ? { prefix } : {}), ...(after !== undefined ? { after } : {}), limit: PAGE_SIZE + 1 });
    return { keys: keys.slice(0, PAGE_SIZE), more: keys.length > PAGE_SIZE, ms: performance.now() - started };
  }, [client, ns, prefix, after]);
  const count = useLoad(() => client.countKeys(ns), [client, ns]);

  const data = page.data;
  const first = (cursors.length - 1) * PAGE_SIZE + 1;
  return (
    <section>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={hrefOf({ page: 'namespaces' })}>Namespaces</a> / <span aria-current="page">{ns}</span>
      </nav>
      <div class="title-row">
        <h1>{ns}</h1>
        <span class="muted">{count.data !== undefined ? plural(count.data, 'key') : ''}</span>
      </div>
      <div class="toolbar">
        <label for="key-search">Keys starting with</label>
        <input id="key-search" type="search" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autocomplete="off" spellcheck={false} />
      </div>
      {page.error !== undefined ? <ErrorNote error={page.error} /> : null}
      <Busy loading={page.loading && data === undefined}>
        {data !== undefined ? (
          <>
            {data.keys.length === 0 ? <p>{prefix !== '' ? `No key starts with “${prefix}”.` : 'This namespace has no live keys.'}</p> : null}
            <ul class="keys" aria-label={`Keys of ${ns}`} data-page-ms={data.ms.toFixed(1)}>
              {data.keys.map((key) => (
                <li key={key}>
                  <a href={hrefOf({ page: 'key', ns, key, tab: 'value' })}>{key}</a>
                </li>
              ))}
            </ul>
            <div class="pager">
              <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                Previous
              </button>
              <span class="muted" aria-live="polite">
                {data.keys.length > 0 ? `Keys ${first.toLocaleString('en')}–${(first + data.keys.length - 1).toLocaleString('en')}` : ''} · {data.ms.toFixed(0)} ms
              </span>
              <button type="button" disabled={!data.more} onClick={() => setCursors([...cursors, data.keys[data.keys.length - 1]])}>
                Next
              </button>
            </div>
          </>
        ) : null}
      </Busy>
      <NewKey client={client} ns={ns} onCreated={(key) => go({ page: 'key', ns, key, tab: 'value' })} />
    </section>
  );
}
