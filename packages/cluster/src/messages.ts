/**
 * The cluster's wire messages and their validation. Every frame is one JSON object with a
 * type `t`; requests carry an `id` their response repeats. A frame that does not parse or
 * fit its schema closes the link it came on (and only that link).
 */
import { z } from 'zod';

/**
 * Version of this protocol; a peer speaking another is refused. 2: a joining member
 * copies segment files (`ckpt*`) instead of a stream of versions (`snapshot`, gone).
 * 3: a key's digest is a chain over its version ids (extended in O(1) by a new newest
 * version) instead of one hash of all of them: a member of 2 would differ on every key.
 * 4: an `ae-keys` entry may list `coming` (versions another peer is pushing to the asker:
 * not to be sent again), a member answers `BUSY` to the rounds of a peer it runs a round
 * with itself, and checkpoint chunks travel as binary frames (raw bytes, not base64 JSON)
 * on transports that carry them.
 */
export const CLUSTER_PROTOCOL = 4;

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

/** Largest chunk of a checkpoint file a joiner may ask for. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;
/** Most files a checkpoint may list (as the store's receiver accepts). */
const MAX_CHECKPOINT_FILES = 100_000;
const checkpointToken = z.string().regex(/^[0-9a-f]{32}$/);
/** A segment file's name as the engine writes it: never a path. */
const segmentName = z.string().regex(/^\d{8}\.kseg$/);
const fileOffset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const crc32Value = z.number().int().nonnegative().max(0xffffffff);
const checkpointFile = z.object({ name: segmentName, bytes: fileOffset, crc: crc32Value, level: z.number().int().nonnegative().max(64) });

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
  z.object({
    t: z.literal('ae-keys'),
    id: requestId,
    ns: namespace,
    /** Per key: the ids the asker holds, and those another peer is pushing to it (not to be sent: they would come twice). */
    keys: z.array(z.object({ key: z.string().max(4096), ids: z.array(id64).max(1_000_000), coming: z.array(id64).max(1_000_000).optional() })).max(10_000),
  }),
  z.object({
    t: z.literal('ae-keys-r'),
    id: requestId,
    versions,
    missing: z.array(z.object({ key: z.string().max(4096), ids: z.array(id64).max(1_000_000) })).max(10_000),
    /** Set when the answer was cut short (its cap, or keys the answerer is fetching itself): more versions wait for the next round. */
    more: z.boolean().optional(),
  }),
  // ---- joining by files (join.ts, checkpoint-fetch.ts) ----
  /** Joiner → donor: pin your segment files for me. */
  z.object({ t: z.literal('ckpt'), id: requestId }),
  /** The pinned files: `ckpt` names them in later requests; `seq` is the donor's last change they hold, `pruned` the greatest change retention removed from them. */
  z.object({ t: z.literal('ckpt-r'), id: requestId, ckpt: checkpointToken, seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), pruned: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), files: z.array(checkpointFile).max(MAX_CHECKPOINT_FILES) }),
  /** Joiner → donor: `length` bytes of file `name` from `offset`. */
  z.object({ t: z.literal('ckpt-get'), id: requestId, ckpt: checkpointToken, name: segmentName, offset: fileOffset, length: z.number().int().min(1).max(MAX_CHUNK_BYTES) }),
  /**
   * The bytes, with their offset and CRC-32 so a damaged or misplaced chunk is refused
   * before it is written: in a text frame as base64 `data`; in a binary frame (see
   * {@link binaryHeader}) raw, as `bytes` (never from JSON text: only a binary frame's
   * payload is put there, after its MAC and header were checked).
   */
  z.object({
    t: z.literal('ckpt-chunk'),
    id: requestId,
    name: segmentName,
    offset: fileOffset,
    crc: crc32Value,
    data: z.string().max(Math.ceil(MAX_CHUNK_BYTES / 3) * 4).optional(),
    bytes: z.instanceof(Uint8Array).optional(),
  }),
  /** Joiner → donor, no answer: installed (or given up): unpin the files. */
  z.object({ t: z.literal('ckpt-done'), id: requestId, ckpt: checkpointToken }),
  z.object({ t: z.literal('leave'), id: requestId, gossip }),
  z.object({ t: z.literal('bye'), id: requestId }),
  z.object({ t: z.literal('error'), id: requestId, code: z.string().max(64), message: z.string().max(2000) }),
]);
export type ClusterMessage = z.infer<typeof messageSchema>;

/**
 * The JSON header of a binary frame: a `ckpt-chunk` whose bytes follow it raw. Nothing
 * else travels in binary frames; the link checks the payload's size (MAX_CHUNK_BYTES).
 */
export const binaryHeader = z.strictObject({ t: z.literal('ckpt-chunk'), id: requestId, name: segmentName, offset: fileOffset, crc: crc32Value });
/** A message of one type. */
export type MessageOf<T extends ClusterMessage['t']> = Extract<ClusterMessage, { t: T }>;
export type Hello = z.infer<typeof hello>;
export type Welcome = z.infer<typeof welcome>;
