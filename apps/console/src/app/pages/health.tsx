/**
 * The server at a glance: its status and state root, its cluster's other members (state,
 * last heard from, replication lag, their state roots as anti-entropy last compared
 * them), and a summary of its metrics. Read again every
 * 2 seconds while the page is open and visible.
 */
import type { ClusterPeers, KoruClient, ServerMetrics, ServerStatus } from '@koru/client';
import { useEffect, useState } from 'preact/hooks';
import { CopyButton, ErrorNote, formatTime, shortId } from '../ui.js';

/** How often the page reads the figures again, ms. */
export const HEALTH_REFRESH_MS = 2000;

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const n = (v: number): string => v.toLocaleString('en');

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : `${m} min ${seconds % 60} s`;
}

interface Figures {
  readonly status: ServerStatus;
  readonly peers: ClusterPeers;
  readonly metrics: ServerMetrics;
  readonly at: Date;
}

export function Health({ client }: { readonly client: KoruClient }) {
  const [figures, setFigures] = useState<Figures | undefined>();
  const [error, setError] = useState<unknown>();
  const [live, setLive] = useState(true);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async (): Promise<void> => {
      if (document.visibilityState === 'visible') {
        try {
          const [status, peers, metrics] = await Promise.all([client.serverStatus(), client.clusterPeers(), client.serverMetrics()]);
          if (!stopped) {
            setFigures({ status, peers, metrics, at: new Date() });
            setError(undefined);
          }
        } catch (e) {
          if (!stopped) setError(e);
        }
      }
      if (!stopped && live) timer = setTimeout(() => void read(), HEALTH_REFRESH_MS);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, live]);

  const s = figures?.status;
  const m = figures?.metrics;
  return (
    <section>
      <div class="title-row">
        <h1>Cluster &amp; health</h1>
        <label class="inline">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Update every {HEALTH_REFRESH_MS / 1000} s
        </label>
      </div>
      {error !== undefined ? <ErrorNote error={error} /> : null}
      {figures === undefined || s === undefined || m === undefined ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <p class="muted">Read at {formatTime(figures.at.toISOString())} UTC.</p>
          <div class="cards">
            <div class="card">
              <h2>Server</h2>
              <dl class="meta">
                <dt>Version</dt>
                <dd>{s.version}</dd>
                <dt>Node</dt>
                <dd>
                  <code>{s.node}</code>
                </dd>
                <dt>Up for</dt>
                <dd>{duration(s.uptimeSeconds)}</dd>
                <dt>Cluster</dt>
                <dd>{s.cluster === null ? (s.adapter === 'postgres' ? 'none (servers share a PostgreSQL store)' : 'none (a single server)') : `${s.cluster.members} ${s.cluster.members === 1 ? 'member' : 'members'}, reached at ${s.cluster.address}`}</dd>
                <dt>State root</dt>
                {/* None on a PostgreSQL store: one copy, no replicas to compare. */}
                <dd>
                  {s.stateRoot === null ? (
                    <span title="none: the server is on a PostgreSQL store, one shared copy">—</span>
                  ) : (
                    <>
                      <code title={s.stateRoot}>{shortId(s.stateRoot)}</code> <CopyButton text={s.stateRoot} label="Copy state root" />
                    </>
                  )}
                </dd>
              </dl>
            </div>
            <div class="card">
              <h2>Data</h2>
              <dl class="meta">
                <dt>Keys</dt>
                <dd>{n(s.keys)}</dd>
                <dt>Versions</dt>
                <dd>{n(s.versions)}</dd>
                <dt>Namespaces</dt>
                <dd>{n(s.namespaces)}</dd>
                <dt>Changes</dt>
                <dd>{n(s.seq)}</dd>
                <dt>On disk</dt>
                <dd>{s.adapter === 'memory' ? 'in memory' : mb(s.diskBytes)}</dd>
              </dl>
            </div>
            <div class="card">
              <h2>Traffic</h2>
              <dl class="meta">
                <dt>HTTP requests</dt>
                <dd>
                  {n(m.http.requests)} ({n(m.http.clientErrors)} 4xx, {n(m.http.serverErrors)} 5xx)
                </dd>
                <dt>WebSocket calls</dt>
                <dd>
                  {n(m.ws.calls)} ({n(m.ws.failedCalls)} failed)
                </dd>
                <dt>Writes</dt>
                <dd>{n(m.writes)}</dd>
                <dt>Connections</dt>
                <dd>
                  {n(m.connections.open)} open, {n(m.ws.connections)} WebSocket, {n(m.connections.pending)} signing in
                </dd>
                <dt>Subscriptions</dt>
                <dd>{n(m.ws.subscriptions)}</dd>
              </dl>
            </div>
            <div class="card">
              <h2>Process</h2>
              <dl class="meta">
                <dt>Memory</dt>
                <dd>
                  {mb(m.process.residentMemoryBytes)} resident, heap {mb(m.process.heapUsedBytes)} of {mb(m.process.heapTotalBytes)}
                </dd>
                <dt>CPU time</dt>
                <dd>{m.process.cpuSeconds.toFixed(1)} s</dd>
                <dt>Event-loop delay</dt>
                <dd>{m.process.eventLoopDelayMs === null ? '—' : `p50 ${m.process.eventLoopDelayMs.p50.toFixed(1)} ms, p99 ${m.process.eventLoopDelayMs.p99.toFixed(1)} ms, max ${m.process.eventLoopDelayMs.max.toFixed(1)} ms`}</dd>
              </dl>
            </div>
          </div>
          <h2>Peers</h2>
          {figures.peers.peers.length === 0 ? (
            figures.status.adapter === 'postgres' ? (
              <p>No cluster: servers on a PostgreSQL store share its data. Start more with <code>kdelta start --store URL</code> on the same URL.</p>
            ) : (
              <p>No other members: start another server with <code>kdelta start --join {figures.peers.address ?? 'HOST:PORT'}</code> to form a cluster.</p>
            )
          ) : (
            <div class="scroll">
              {/* A list of blocks on a phone (styles.css, table.stack): the roles are explicit, as a browser drops them with the table layout. */}
              <table class="list stack" role="table" aria-label="Peers">
                <thead role="rowgroup">
                  <tr role="row">
                    <th role="columnheader" scope="col">Node</th>
                    <th role="columnheader" scope="col">Address</th>
                    <th role="columnheader" scope="col">State</th>
                    <th role="columnheader" scope="col">Last heard (UTC)</th>
                    <th role="columnheader" scope="col" class="num">
                      Lag
                    </th>
                    <th role="columnheader" scope="col" class="num">
                      Unconfirmed
                    </th>
                    <th role="columnheader" scope="col">State root (last compared)</th>
                  </tr>
                </thead>
                <tbody role="rowgroup">
                  {figures.peers.peers.map((p) => (
                    <tr key={p.id} role="row">
                      <th role="rowheader" scope="row" data-label="Node">
                        <code>{p.id}</code>
                      </th>
                      <td role="cell" data-label="Address">{p.address}</td>
                      <td role="cell" data-label="State">
                        <span class={`state state-${p.state}`}>{p.state}</span>
                      </td>
                      <td role="cell" data-label="Last heard (UTC)">{p.lastSeen === null ? 'never' : formatTime(p.lastSeen)}</td>
                      <td class="num" role="cell" data-label="Lag">{n(p.replicationLagMs)} ms</td>
                      <td class="num" role="cell" data-label="Unconfirmed">{n(p.unconfirmed)}</td>
                      <td role="cell" data-label="State root (last compared)">
                        {p.lastRoot === null ? (
                          'not compared yet'
                        ) : (
                          <>
                            <code title={p.lastRoot.root}>{shortId(p.lastRoot.root)}</code>{' '}
                            <span class={p.lastRoot.matched ? 'ok' : 'error'}>{p.lastRoot.matched ? 'same as this server' : 'differed'}</span> at {formatTime(p.lastRoot.at)}
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
