/** `kdelta peers`: the members of the cluster the served database belongs to. */
import type { PeerInfo } from '@koru/server';
import { examples } from '../help.js';
import { EXIT_FAILED } from '../errors.js';
import type { Register } from './register.js';

/** The server's `GET /v1/cluster/peers`. */
interface PeersAnswer {
  readonly node: string;
  readonly address: string | null;
  readonly peers: readonly PeerInfo[];
}

export const register: Register = (program, act) => {
  program
    .command('peers')
    .summary('the cluster members this node knows, and how they are doing')
    .description(
      'Lists the other members of the cluster of the server holding the database (or the one at --url): id, address, state (healthy, suspect, unreachable, left), when it was last heard from, and how far behind this node\'s writes it is. A database that no clustered server holds has no peers.',
    )
    .addHelpText('after', examples(['kdelta peers', 'kdelta peers --url http://127.0.0.1:7001 --json']))
    .action(
      act(async (ctx) => {
        const db = await ctx.db();
        if (!ctx.remote) {
          const answer: PeersAnswer = { node: db.nodeId, address: null, peers: [] };
          if (ctx.json) return ctx.outJson(answer);
          ctx.out(`${ctx.c.bold('node')} ${db.nodeId}  ${ctx.c.dim('(not served by a cluster member: start one with kdelta start --cluster or --join HOST:PORT)')}`);
          return;
        }
        const res = await fetch(new URL('/v1/cluster/peers', ctx.where), {
          headers: ctx.token !== undefined ? { authorization: `Bearer ${ctx.token}` } : {},
        });
        if (!res.ok) {
          ctx.warn(`${ctx.where} answered ${res.status}: ${await res.text()}`);
          return EXIT_FAILED;
        }
        const answer = (await res.json()) as PeersAnswer;
        if (ctx.json) return ctx.outJson(answer);
        ctx.out(`${ctx.c.bold('node')} ${answer.node}${answer.address !== null ? `  ${answer.address}` : ctx.c.dim('  (not a cluster member)')}`);
        if (answer.peers.length === 0) {
          ctx.out(ctx.c.dim('no peers'));
          return;
        }
        const colour = { healthy: ctx.c.green, suspect: ctx.c.yellow, unreachable: ctx.c.red, left: ctx.c.dim } as const;
        const rows = answer.peers.map((p) => [p.id, p.address, p.state, p.lastSeen ?? 'never', `${p.replicationLagMs} ms`] as const);
        const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['ID', 'ADDRESS', 'STATE', 'LAST SEEN'][i]!.length));
        ctx.out(ctx.c.bold(['ID', 'ADDRESS', 'STATE', 'LAST SEEN', 'LAG'].map((h, i) => (i < 4 ? h.padEnd(widths[i]!) : h)).join('  ')));
        for (const [r, p] of rows.map((r, i) => [r, answer.peers[i]!] as const)) {
          ctx.out([r[0].padEnd(widths[0]!), r[1].padEnd(widths[1]!), colour[p.state](r[2].padEnd(widths[2]!)), r[3].padEnd(widths[3]!), r[4]].join('  '));
        }
      }),
    );
};
