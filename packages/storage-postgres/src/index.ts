/**
 * @koru/storage-postgres — KoruDelta's store in PostgreSQL: many stateless servers, one
 * database. `KoruDelta.start({ store: 'postgres://…' })` (in @koru/delta) opens it; this
 * package is the store underneath. Node only. The schema is in ./schema.ts and README.md.
 */
export { PostgresStore, type PostgresStoreOptions, type PostgresWriteOptions, type PostgresPutItem } from './postgres-store.js';
export { checkPostgresUrl, redactUrl } from './urls.js';
export { ChangeFeed } from './feed.js';
export { pushDown, pathExpression, indexColumns, sqlLiteral, INDEXED_STRING_CHARS, type PushedFilter } from './pushdown.js';
export { SCHEMA_VERSION } from './schema.js';
export { isUnreachable } from './errors.js';
