import { SQL } from 'drizzle-orm';
import { InvalidInputError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { checkColumnValue, describeValue, valueBytes } from './column-value.js';
import { isEntity } from './drizzle-entity.js';
import { canonicalKeyValue, keyValueProblem } from './key-values.js';
import { sqlDefaultEvaluator } from './sql-default.js';

/**
 * Largest row (sum of encoded column sizes) accepted, 1 MiB. Each row travels
 * in a lock row and a version row and is batched with many others into one
 * statement per shard, so rows far larger than this would break batching.
 */
export const MAX_ROW_BYTES = 1024 * 1024;

/**
 * @internal Full image of a row to insert: unknown keys refused, defaults
 * ($default/$defaultFn, default(value), and SQL defaults the client can
 * evaluate: sql-default.ts) applied, every value type-checked, not-null
 * honoured, size capped. Throws InvalidInputError (SchemaError for an SQL
 * default the client cannot evaluate). Serial and identity values are
 * filled in before (generated-ids.ts).
 */
export function completeInsertRow(meta: TableMeta, input: unknown, where: string): Row {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidInputError(`${where}: expected a row object for ${meta.name}, got ${describeValue(input)}`);
  }
  rejectUnknownKeys(meta, input as Row, where);
  const row: Row = {};
  for (const column of meta.columns) {
    let value = (input as Row)[column.key];
    if (value === undefined) value = defaultValue(meta, column, where);
    if (isEntity(value, SQL)) throw new InvalidInputError(`${where}: ${meta.name}.${column.key} is a SQL expression; percolator writes plain values only`);
    row[column.key] = value;
  }
  checkRowValues(meta, row, meta.columns, where);
  return row;
}

/** @internal Validates `set()` values of an update; `undefined` entries are dropped as drizzle does. */
export function checkSetValues(meta: TableMeta, input: unknown): Row {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidInputError(`update(${meta.name}).set(): expected an object of column values, got ${describeValue(input)}`);
  }
  rejectUnknownKeys(meta, input as Row, `update(${meta.name}).set()`);
  const values: Row = {};
  for (const [key, value] of Object.entries(input as Row)) {
    if (value === undefined) continue;
    if (isEntity(value, SQL)) {
      throw new InvalidInputError(
        `update(${meta.name}).set(): ${key} is a SQL expression; percolator cannot evaluate SQL at commit time. Read the row in a transaction and set the computed value instead`,
      );
    }
    values[key] = value;
  }
  // $onUpdate columns not set explicitly get a fresh value, as drizzle does.
  for (const column of meta.columns) {
    if (values[column.key] === undefined && column.column.onUpdateFn) {
      const value = column.column.onUpdateFn();
      if (isEntity(value, SQL)) throw new InvalidInputError(`${meta.name}.${column.key} has a SQL $onUpdate; percolator writes plain values only`);
      values[column.key] = value;
    }
  }
  if (Object.keys(values).length === 0) throw new InvalidInputError(`update(${meta.name}).set(): no values to set`);
  const columns = Object.keys(values).map((key) => meta.columnsByKey.get(key)!);
  checkRowValues(meta, values, columns, `update(${meta.name}).set()`);
  return values;
}

/** @internal Size cap of a complete row image (after an update merged its values). */
export function checkRowSize(meta: TableMeta, row: Row, where: string): void {
  let bytes = 0;
  for (const column of meta.columns) bytes += valueBytes(row[column.key]);
  if (bytes > MAX_ROW_BYTES) {
    throw new InvalidInputError(`${where}: row of ${meta.name} is ${bytes} bytes, over the ${MAX_ROW_BYTES}-byte limit per row`);
  }
}

/** Types whose values are written in canonical form (key-values.ts), keys or not: Postgres keeps no other. */
const WRITTEN_CANONICAL = new Set(['PgUUID', 'PgDate']);

function checkRowValues(meta: TableMeta, row: Row, columns: readonly ColumnMeta[], where: string): void {
  for (const column of columns) {
    const value = row[column.key];
    if (value === null || value === undefined) {
      if (column.notNull) throw new InvalidInputError(`${where}: ${meta.name}.${column.key} is not null but got ${describeValue(value)}`);
      continue;
    }
    const problem = checkColumnValue(column.column, value) ?? (meta.primaryKey.includes(column) ? keyValueProblem(column.column, value) : undefined);
    if (problem) throw new InvalidInputError(`${where}: ${meta.name}.${column.key} (${column.sqlType}): ${problem}`);
    // Postgres keeps uuids in lower case and a date's day only: write them so, or a key
    // given otherwise would be placed (hashed) unlike the same key read back later.
    if (WRITTEN_CANONICAL.has(column.column.columnType)) row[column.key] = canonicalKeyValue(column.column, value);
  }
  checkRowSize(meta, row, where);
}

function rejectUnknownKeys(meta: TableMeta, input: Row, where: string): void {
  for (const key of Object.keys(input)) {
    if (!meta.columnsByKey.has(key)) {
      throw new InvalidInputError(`${where}: ${meta.name} has no column ${JSON.stringify(key)} (columns: ${[...meta.columnsByKey.keys()].join(', ')})`);
    }
  }
}

function defaultValue(meta: TableMeta, column: ColumnMeta, where: string): unknown {
  const c = column.column;
  if (c.defaultFn) return c.defaultFn();
  if (c.default === undefined) {
    // Serial and identity values are filled in before (generated-ids.ts); a column that slipped through is a bug.
    if (c.columnType.includes('Serial') || c.generatedIdentity) throw new InvalidInputError(`${where}: ${meta.name}.${column.key} is a serial/identity column without a generated value`);
    return null;
  }
  if (isEntity(c.default, SQL)) return sqlDefaultEvaluator(c, `${meta.name}.${column.key}`)();
  return c.default;
}
