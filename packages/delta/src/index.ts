/**
 * @koru/delta — KoruDelta, the invisible database. This entry is browser-safe
 * (in-memory databases); under Node the package resolves to `node.ts`, which adds
 * durable databases (`start({ path })`) and native hashing.
 */
export {
  KoruDelta,
  type StartOptions,
  type DiffOptions,
  type VersionDiff,
  type VersionRef,
  type PutManyItem,
} from './koru-delta.js';
export { diffValues, type DiffChange } from './diff.js';
export {
  Query,
  Filter,
  Agg,
  aggregate,
  parseQuery,
  parseFilter,
  queryToWire,
  toWire,
  compareJson,
  InvalidQueryError,
  type QuerySpec,
  type QueryResult,
  type QueryExplain,
  type IndexInfo,
  type ViewDefinition,
  type ViewInfo,
  type ViewResult,
  IndexNotFoundError,
  ViewNotFoundError,
  ViewExistsError,
  LimitExceededError,
  MAX_INDEXES_PER_NAMESPACE,
  MAX_VIEWS,
  type WireFilter,
  type Aggregation,
  type SortDirection,
  type ChangeEvent,
  type LaggedEvent,
  type SubscriptionSpec,
  type Subscription,
} from '@koru/query';
export { toEpochMs, type TimeInput } from './time.js';
export { registerPathAdapter, type PathAdapterFactory, type DurableOptions } from './platform.js';
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
export {
  KeyNotFoundError,
  VersionNotFoundError,
  VersionConflictError,
  CorruptionError,
  DatabaseLockedError,
  ClosedError,
  StorageFullError,
  IoError,
  type Version,
  type StorageStats,
  type VerifyReport,
  type VerifyProblem,
  type RecoveryReport,
  type SyncPolicy,
  type WriteOptions,
  type HistoryOptions,
  type ImportedVersion,
  type Change,
  type ChangeType,
} from '@koru/storage';
