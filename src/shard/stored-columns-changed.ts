import { SchemaVersionError, type PercolatorErrorOptions } from '../errors.js';

/**
 * A statement that copies lock rows by column list (commit, roll forward)
 * was refused by the columns fence: the shard stores other columns of
 * `table` than the statement was built for (a migrate() changed them).
 * Nothing was written. The engine builds the statement again from the
 * shard's catalogue (src/txn/stored-columns.ts); should it escape, it is a
 * SchemaVersionError.
 */
export class StoredColumnsChangedError extends SchemaVersionError {
  constructor(
    readonly storedTable: string,
    message: string,
    options?: PercolatorErrorOptions,
  ) {
    super(message, { ...options, table: storedTable });
  }
}
