/**
 * The cluster's wire messages and their validation. Every frame is one JSON object with a
 * type `t`; requests carry an `id` their response repeats. A frame that does not parse or
 * fit its schema closes the link it came on (and only that link).
 */
import { z } from 'zod';

/** Version of this protocol; a peer speaking another is refused. */
export const CLUSTER_PROTOCOL = 1;

const id64 = z.string().regex(/^[0-9a-f]{64}$/);
const nodeId = z.string().min(1).max(128);
/** `host:port` a peer can dial. */
const address = z.string().min(3).max(300);
const requestId = z.number().int().nonnegative();

/** A member's state as gossiped (SWIM): `dead` is shown to users as unreachable. */
export const memberStates = ['alive', 'suspect', 'dead', 'left'] as const;
export type GossipState = (typeof memberStates)[number];

const gossipEntry = z.object({
  node: nodeId,
  address,
  state: z.enum(memberStates),
  /** Raised by the member itself to refute a suspicion, and on every restart. */
  inc: z.number().int().nonnegative(),
});
export type GossipEntry = z.infer<typeof gossipEntry>;
const gossip = z.array(gossipEntry).max(64);

/** A 64-character id whose every digit the store checks itself on apply. */
const id64Checked = z.string().length(64);

/**
 * A replicated version, exactly as the writer stored it: its shape is checked here, its
 * content by the store when it applies it (names, clock, the value against its valueId,
 * everything against its versionId: CausalStorage.applyReplicated).
 */
const version = z.object({
  namespace: z.string().max(1024),
  key: z.string().max(4096),
  value: z.unknown().optional(),
  valueId: id64Checked.nullable().optional(),
  versionId: id64Checked,
  previousVersion: id64Checked.nullable(),
  hlc: z.string().max(32),
  node: nodeId,
  deleted: z.boolean(),
  timestamp: z.string().max(40).optional(),
});
export type WireVersion = z.infer<typeof version>;
const versions = z.array(version).max(100_000);

const prefix = z.string().regex(/^[0-9a-f]{0,4}$/);
const namespace = z.string().min(1).max(1024);

// ---- handshake -------------------------------------------------------------

/** Server → client, first frame: who it is and a fresh nonce to prove the key against. */
export const challenge = z.object({ t: z.literal('challenge'), protocol: z.number().int(), node: nodeId, nonce: id64 });
/** Client → server: who it is, its own nonce, and its proof over the server's nonce. */
export const hello = z.object({
  t: z.literal('hello'),
  protocol: z.number().int(),
  node: nodeId,
  address,
  inc: z.number().int().nonnegative(),
  nonce: id64,
  proof: id64,
});
/** Server → client: its proof over the client's nonce and the members it knows. */
export const welcome = z.object({ t: z.literal('welcome'), node: nodeId, address, inc: z.number().int().nonnegative(), proof: id64, members: z.array(gossipEntry).max(4096) });
/** Either side, then the link closes: why it was refused. */
export const refused = z.object({ t: z.literal('refused'), code: z.string().max(64), message: z.string().max(1000) });

// ---- after the handshake ---------------------------------------------------

export const messageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ping'), id: requestId, gossip }),
  z.object({ t: z.literal('ping-req'), id: requestId, target: nodeId, gossip }),
  z.object({ t: z.literal('ack'), id: requestId, gossip }),
  z.object({ t: z.literal('nack'), id: requestId }),
  z.object({ t: z.literal('push'), id: requestId, versions }),
  z.object({ t: z.literal('push-ack'), id: requestId, stored: z.number().int().nonnegative(), orphans: z.number().int().nonnegative() }),
  z.object({ t: z.literal('ae-roots'), id: requestId, root: id64 }),
  z.object({ t: z.literal('ae-roots-r'), id: requestId, root: id64, namespaces: z.record(namespace, id64).optional() }),
  z.object({ t: z.literal('ae-tree'), id: requestId, ns: namespace, prefixes: z.array(prefix).max(4096) }),
  z.object({
    t: z.literal('ae-tree-r'),
    id: requestId,
    nodes: z.record(
      prefix,
      z.object({
        children: z.array(z.tuple([prefix, id64, z.number().int().nonnegative()])).max(16).optional(),
        keys: z.array(z.tuple([z.string().max(4096), id64])).max(100_000).optional(),
      }),
    ),
  }),
  z.object({ t: z.literal('ae-keys'), id: requestId, ns: namespace, keys: z.array(z.object({ key: z.string().max(4096), ids: z.array(id64).max(1_000_000) })).max(10_000) }),
  z.object({
    t: z.literal('ae-keys-r'),
    id: requestId,
    versions,
    missing: z.array(z.object({ key: z.string().max(4096), ids: z.array(id64).max(1_000_000) })).max(10_000),
    /** Set when the answer was cut short: more versions wait for the next round. */
    more: z.boolean().optional(),
  }),
  z.object({ t: z.literal('snapshot'), id: requestId }),
  /** `sha`: SHA-256 of the chunk's version ids in order. */
  z.object({ t: z.literal('snap-chunk'), id: requestId, n: z.number().int().nonnegative(), sha: id64, versions }),
  /** `sha`: SHA-256 of the chunks' digests in order, so a missing or reordered chunk is caught. */
  z.object({ t: z.literal('snap-end'), id: requestId, chunks: z.number().int().nonnegative(), versions: z.number().int().nonnegative(), sha: id64 }),
  z.object({ t: z.literal('leave'), id: requestId, gossip }),
  z.object({ t: z.literal('bye'), id: requestId }),
  z.object({ t: z.literal('error'), id: requestId, code: z.string().max(64), message: z.string().max(2000) }),
]);
export type ClusterMessage = z.infer<typeof messageSchema>;
/** A message of one type. */
export type MessageOf<T extends ClusterMessage['t']> = Extract<ClusterMessage, { t: T }>;
export type Hello = z.infer<typeof hello>;
export type Welcome = z.infer<typeof welcome>;
