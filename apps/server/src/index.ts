/** @koru/server — KoruDelta over HTTP and WebSocket (see PROTOCOL.md). */
export { startServer, SERVER_FILE, LOG_LEVELS, type LogLevel, type ServerState, type ServerOptions, type ServerClusterOptions, type KoruServer } from './server.js';
export { portFromEnv, logLevelFromEnv, parsePort, parseLogLevel, parseJoinAddress, DEFAULT_PORT } from './env.js';
export { OPENAPI_VERSION } from './openapi.js';
export type { ConsoleOptions } from './console.js';
export { serve, type ServeOptions } from './serve.js';
export { parseAllowOrigins, parseAllowHosts } from './origin.js';
export { readTokenFile, tokenOf } from './token-file.js';
export { PROTOCOL_VERSION } from './ws.js';
export { toWireError, type WireError } from './errors.js';
export type { ServerStatus, ClusterPeers, ServerMetrics } from './server-calls.js';
export type { MetricsSummary } from './metrics.js';
/** One member as `GET /v1/cluster/peers` lists it. */
export type { PeerInfo } from '@koru/cluster';
