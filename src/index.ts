/**
 * pg-percolator: snapshot-isolated (optionally serializable) transactions
 * across independent PostgreSQL shards, with a Drizzle-style API.
 */
export { percolator, type PercolatorOptions, type PoolOptions } from './client/percolator.js';
export { Database, type AsOfOptions, type MigrateOptions, type TransactionOptions } from './client/database.js';
export { Transaction } from './client/transaction.js';
export { SnapshotReader } from './client/snapshot-reader.js';
export { SelectBuilder, SelectQuery } from './client/select-builder.js';
export { InsertBuilder, InsertQuery } from './client/insert-builder.js';
export { UpdateBuilder, UpdateQuery } from './client/update-builder.js';
export { DeleteQuery } from './client/delete-builder.js';
export { MAX_ROW_BYTES } from './client/row-validation.js';
export type { RetryBackoff } from './client/retry-backoff.js';
export type { InsertRow, SchemaTables, SelectedFields, SelectedRow, ShardKeys, UpdateSet, WriteResult } from './client/types.js';
export type { IsolationLevel } from './txn/engine-contract.js';
export type { ShardStatus, ShardStatusEntry } from './client/shard-status.js';
export type { GcOptions, GcRun } from './txn/gc-types.js';
export type { TimestampSource } from './oracle/timestamp-source.js';
export type { OracleConnectOptions, OracleOption } from './client/oracle-option.js';
export type { OracleTlsOptions } from './oracle/oracle-credentials.js';
export { type Timestamp, composeTimestamp, formatTimestamp, physicalMs, logicalPart } from './timestamp.js';
export * from './errors.js';
