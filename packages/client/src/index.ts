/**
 * @koru/client — talk to a KoruDelta server with the API of the embedded handle:
 * `const db = await KoruClient.connect('http://127.0.0.1:7878')`. This entry is
 * browser-safe (it uses `globalThis.WebSocket`); under Node the package resolves to
 * `node.ts`, which supplies the `ws` package's WebSocket.
 */
export { KoruClient, type ConnectOptions, type ReconnectOptions, type PutOptions } from './client.js';
export type { ExportOptions } from './export-stream.js';
export { PROTOCOL_VERSION, type ConnectionState } from './connection.js';
export { registerWebSocket, type WebSocketConstructor, type WebSocketLike } from './platform.js';
export type { DiffChange, DiffOptions, PutManyItem, SyncPullOptions, SyncPullResult, SyncPushResult, TimeInput, VersionDiff, VersionOf, VersionRef } from './types.js';
export type { ClusterPeers, PeerInfo, PeerState, ServerMetrics, ServerStatus } from './server-info.js';
export {
  KoruError,
  ErrorCodes,
  isKoruError,
  InvalidNamespaceError,
  InvalidKeyError,
  InvalidValueError,
  ValueTooLargeError,
  ValueTooDeepError,
  InvalidArgumentError,
  UnsupportedError,
  type ErrorCode,
  type JsonValue,
} from '@koru/engine';
export type {
  Aggregation,
  ChangeEvent,
  Entry,
  FilterInput,
  IndexInfo,
  LaggedEvent,
  PrunedEvent,
  QueryExplain,
  QueryResult,
  Subscription,
  SubscriptionSpec,
  ViewDefinition,
  ViewInfo,
  ViewResult,
  WireFilter,
} from '@koru/query';
export type {
  ChangeType,
  HistoryOptions,
  ImportedVersion,
  ListKeysOptions,
  PurgeResult,
  RetentionPolicy,
  SeqVersion,
  StorageStats,
  Version,
  VerifyProblem,
  VerifyReport,
  WriteOptions,
} from '@koru/storage';
