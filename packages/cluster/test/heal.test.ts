// Repair after a long partition {A} | {B, C} with writes on both sides to the same keys,
// on the simulated network (virtual time, a calm network): the difference (more keys
// than one exchange request holds) is worked off by pipelined exchange requests, with a
// bounded number in flight, and A is sent the other side's versions about once, not once
// per member of that side.
import { ClusterNode, type Transport } from '@koru/cluster';
import { Link, type LinkOwner } from '../src/link.js';
import type { MessageOf } from '../src/messages.js';
import { KoruDelta } from '@koru/delta';
import { MemoryAdapter } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { World } from './sim.js';

/** More keys than one exchange request carries (256), so one round needs several. */
const KEYS = 700;
const VERSIONS_PER_SIDE = 2;

interface Node {
  readonly name: string;
  readonly address: string;
  readonly db: KoruDelta;
  cluster: ClusterNode | undefined;
  /** Versions handed to applyReplicated (pushes and exchange answers), counted from `counting`. */
  received: number;
}

/** Per direction of each connection: exchange requests sent and not answered yet, and the most seen at once. */
class Flights {
  readonly #open = new Map<string, Set<number>>();
  most = 0;
  total = 0;

  frame(direction: string, reverse: string, frame: string): void {
    const t = /^\{"t":"(ae-keys|ae-keys-r)","id":(\d+)/.exec(frame);
    if (t === null) return;
    const id = Number(t[2]);
    if (t[1] === 'ae-keys') {
      let open = this.#open.get(direction);
      if (open === undefined) this.#open.set(direction, (open = new Set()));
      open.add(id);
      this.total++;
      this.most = Math.max(this.most, open.size);
    } else this.#open.get(reverse)?.delete(id);
  }
}

/** `world`'s transport for `address`, reporting every frame sent on it to `flights`. */
function watched(world: World, address: string, flights: Flights): Transport {
  const t = world.transport(address);
  return {
    dial: (to, h) => {
      const raw = t.dial(to, h);
      return { ...raw, send: (f: string) => (flights.frame(`${address}>${to}`, `${to}>${address}`, f), raw.send(f)), close: () => raw.close(), end: () => raw.end?.(), buffered: 0 };
    },
    listen: (accept) =>
      t.listen((raw) => {
        // An accepted link does not know the dialer's address; requests only go out on dialed links, answers come back here.
        let peer = '?';
        const h = accept({ ...raw, send: (f: string) => (flights.frame(`${address}<${peer}`, `${peer}>${address}`, f), raw.send(f)), close: () => raw.close(), end: () => raw.end?.(), buffered: 0 });
        return {
          onOpen: () => h.onOpen(),
          onFrame: (f: string) => {
            const hello = /^\{"t":"hello".*"address":"([^"]+)"/.exec(f);
            if (hello !== null) peer = hello[1]!;
            h.onFrame(f);
          },
          onClose: (r: string) => h.onClose(r),
        };
      }),
    close: () => t.close(),
  };
}

describe('partition heal', () => {
  it('repairs a difference larger than one request by pipelined exchanges, sending A the other side about once', async () => {
    const world = new World(7);
    const flights = new Flights();
    let n = 0;
    const hex = (len: number): string => Array.from({ length: len }, () => Math.floor(world.random() * 16).toString(16)).join('');
    const nodes: Node[] = [];
    for (const name of ['A', 'B', 'C']) {
      const db = await KoruDelta.start({ adapter: new MemoryAdapter(`heal-${name}-${hex(6)}`), now: () => world.now });
      const node: Node = { name, address: `10.0.1.${++n}:7000`, db, cluster: undefined, received: 0 };
      const s = db.storage;
      const apply = s.applyReplicated.bind(s);
      s.applyReplicated = (items, o) => {
        node.received += items.length;
        return apply(items, o);
      };
      nodes.push(node);
    }
    const [A, B, C] = nodes as [Node, Node, Node];
    try {
      // What a partition {A} | {B, C} leaves: both sides wrote to the same keys; B and C agree.
      for (let v = 0; v < VERSIONS_PER_SIDE; v++) {
        for (let k = 0; k < KEYS; k++) {
          await A.db.put('heal', `k${k}`, { side: 'A', v });
          await B.db.put('heal', `k${k}`, { side: 'B', v });
          world.now += 1;
        }
      }
      for (let k = 0; k < KEYS; k++) await C.db.storage.applyReplicated(B.db.storage.history('heal', `k${k}`));
      const per = KEYS * VERSIONS_PER_SIDE;
      expect(B.db.storage.stateRoot()).toBe(C.db.storage.stateRoot());
      for (const node of nodes) {
        node.cluster = ClusterNode.start({
          db: node.db,
          transport: watched(world, node.address, flights),
          address: node.address,
          join: node === A ? [] : [A.address],
          clock: world.clock(),
          random: world.random,
          nonce: () => hex(64),
          // Rounds only when the test says (all three at once, as after a heal).
          antiEntropyIntervalMs: 1e9,
        });
      }
      await world.run(3_000);
      for (const node of nodes) node.received = 0;

      // Every member starts its rounds at once: A with B and C, B and C each with A.
      let waited = 0;
      const roots = (): Set<string> => new Set(nodes.map((x) => x.db.storage.stateRoot()));
      for (let attempt = 0; attempt < 5 && roots().size > 1; attempt++) {
        let settled = false;
        void Promise.all(nodes.map((x) => x.cluster!.syncNow())).finally(() => (settled = true));
        while (!settled && waited < 120_000) {
          await world.run(100);
          waited += 100;
        }
      }
      expect(roots().size, `no common state root ${waited} ms after the rounds started`).toBe(1);
      for (const node of nodes) expect(node.db.storage.stats().versions, node.name).toBe(2 * per);
      // Several exchange requests were out at once on one link (a pipeline), never more than its bound.
      expect(flights.total).toBeGreaterThanOrEqual(Math.ceil(KEYS / 256));
      expect(flights.most).toBeGreaterThanOrEqual(2);
      expect(flights.most).toBeLessThanOrEqual(3);
      // B and C hold the same versions: A is sent them about once, not by each of B and C and its own round.
      expect(A.received, `A was handed ${A.received} versions for the ${per} it lacked`).toBeLessThan(1.5 * per);
      expect(B.received + C.received, `B and C were handed ${B.received + C.received} versions for the ${2 * per} they lacked`).toBeLessThan(3 * per);
    } finally {
      for (const node of nodes) {
        node.cluster?.kill();
        await node.db.close();
      }
    }
  }, 120_000);

  it('a member still waiting for its checkpoint answers no round: nothing is walked or pushed to it', async () => {
    const world = new World(3);
    const db = await KoruDelta.start({ adapter: new MemoryAdapter('joiner'), now: () => world.now });
    // Told to join a member that is not there: it holds nothing and waits for a checkpoint.
    const joiner = ClusterNode.start({ db, transport: world.transport('10.0.2.1:7000'), address: '10.0.2.1:7000', join: ['10.0.2.9:7000'], clock: world.clock(), random: world.random });
    try {
      const owner: LinkOwner = {
        clock: world.clock(),
        clusterKey: undefined,
        self: { node: 'member', address: '10.0.2.2:7000', inc: 1 },
        nonce: () => 'cd'.repeat(32),
        members: () => [],
        admit: () => undefined,
        ready: () => {},
        message: () => {},
        closed: () => {},
        log: () => {},
      };
      const link = Link.dial(owner, (h) => world.transport('10.0.2.2:7000').dial('10.0.2.1:7000', h));
      await world.run(100);
      expect(link.ready).toBe(true);
      const answer = link.request<MessageOf<'ae-roots-r'>>({ t: 'ae-roots', id: link.nextId(), root: 'a'.repeat(64) }, 1_000).catch((e: Error) => e);
      await world.run(100);
      expect(String(await answer)).toMatch(/UNAVAILABLE: joining/);
      expect(link.ready).toBe(true);
    } finally {
      joiner.kill();
      await db.close();
    }
  });
});
