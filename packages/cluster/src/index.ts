/**
 * @koru/cluster — KoruDelta nodes that find each other, replicate every write and
 * converge: SWIM-style membership, push replication with acknowledgements, Merkle-tree
 * anti-entropy and snapshot join, over WebSocket links authenticated with a shared
 * cluster key. Node only.
 */
export { ClusterNode, type ClusterOptions, type PeerInfo } from './cluster-node.js';
export { WsTransport, CLUSTER_PATH, type WsTransportOptions } from './ws-transport.js';
export { type Transport, type RawLink, type LinkHandlers, type Clock, systemClock } from './transport.js';
export { type PeerState, peerStateOf } from './membership.js';
export { CLUSTER_PROTOCOL } from './messages.js';
export { clusterKeyFromToken } from './auth.js';
