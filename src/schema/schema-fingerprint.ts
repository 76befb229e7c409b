import { createHash } from 'node:crypto';
import { storageType } from './sql-names.js';
import type { TableMeta } from './table-types.js';

/**
 * A table's shape as schema versions identify it (schema/core/0007-schema-versions.sql):
 * the columns fingerprint covers the key columns in key order and the other
 * columns in any order, each with its storage type; the schema fingerprint
 * adds the table's indexes. Computed the same way from a declaration and
 * from a shard's catalogue entry, so either can be compared with what a
 * shard records.
 */
export interface StoredColumns {
  readonly keyColumns: readonly string[];
  readonly keyTypes: readonly string[];
  readonly valueColumns: readonly string[];
  readonly valueTypes: readonly string[];
}

export function columnsFingerprint(columns: StoredColumns): string {
  const keys = columns.keyColumns.map((name, i) => [name, columns.keyTypes[i]]);
  const values = columns.valueColumns.map((name, i) => [name, columns.valueTypes[i]!]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  return digest(JSON.stringify({ keys, values }));
}

/** The stored columns of a declared table (its catalogue row's). */
export function declaredColumns(meta: TableMeta): StoredColumns {
  const values = meta.columns.filter((c) => !meta.primaryKey.includes(c));
  return {
    keyColumns: meta.primaryKey.map((c) => c.name),
    keyTypes: meta.primaryKey.map((c) => storageType(c.sqlType)),
    valueColumns: values.map((c) => c.name),
    valueTypes: values.map((c) => storageType(c.sqlType)),
  };
}

export function schemaFingerprint(meta: TableMeta): string {
  const indexes = meta.indexes.map((index) => [index.storage.name, columnsFingerprint(declaredColumns(index.storage))]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return digest(JSON.stringify({ columns: columnsFingerprint(declaredColumns(meta)), indexes }));
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 24);
}
