/** Every namespace with its live-key count. */
import type { KoruClient } from '@koru/client';
import { hrefOf } from '../route.js';
import { Busy, ErrorNote, useLoad } from '../ui.js';

export function Namespaces({ client }: { readonly client: KoruClient }) {
  const { data, error, loading, reload } = useLoad(async () => {
    const names = await client.listNamespaces();
    const counts = await Promise.all(names.map((ns) => client.countKeys(ns)));
    return names.map((ns, i) => ({ ns, keys: counts[i]! }));
  }, [client]);
  return (
    <section>
      <div class="title-row">
        <h1>Namespaces</h1>
        <button type="button" class="small" onClick={reload}>
          Refresh
        </button>
      </div>
      {error !== undefined ? <ErrorNote error={error} /> : null}
      <Busy loading={loading && data === undefined}>
        {data !== undefined && data.length === 0 ? <p>No namespaces yet: write a key (for example <code>kdelta set users/alice '{'{'}"name":"Alice"{'}'}'</code>).</p> : null}
        {data !== undefined && data.length > 0 ? (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Namespace</th>
                <th scope="col" class="num">
                  Keys
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map(({ ns, keys }) => (
                <tr key={ns}>
                  <td>
                    <a href={hrefOf({ page: 'keys', ns })}>{ns}</a>
                  </td>
                  <td class="num">{keys.toLocaleString('en')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Busy>
    </section>
  );
}
