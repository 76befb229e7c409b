import { SchemaError } from '../errors.js';
import { declaredColumns } from '../schema/schema-fingerprint.js';
import { ident, literal, storageType } from '../schema/sql-names.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import { retirePrewriteOverloadsSql } from './prewrite-statements.js';
import { PessimisticLockStatements } from './pessimistic-lock-statements.js';
import type { CatalogueEntry } from './table-catalogue.js';
import { TableSql } from './table-sql.js';

/**
 * The value existing rows read in a column added to a table with rows, as
 * the driver text of a literal (null: NULL). Given by the client, which
 * evaluates defaults (a not-null column without a constant default is a
 * SchemaError there).
 */
export type ColumnFill = (table: TableMeta, column: ColumnMeta) => string | null;

/** Existing rows read NULL in an added nullable column; a not-null one needs a fill the client evaluates. */
export const nullFill: ColumnFill = (table, column) => {
  if (column.notNull) throw new SchemaError(`table ${table.name}: column ${column.name} is added as not null, and existing rows need a value: migrate it through percolator() with a constant default`);
  return null;
};

/** How a declared table differs from its storage on a shard, in the changes migrate() applies online. */
export interface ColumnChanges {
  readonly added: readonly ColumnMeta[];
  readonly dropped: readonly string[];
}

/**
 * The columns to add and drop to bring a shard's storage of `meta` (as its
 * catalogue entry lists it) to the declaration. Anything else is refused
 * with a SchemaError naming the column and the way to get there: key
 * changes, type changes, and a change that both drops and adds columns
 * (it may be a rename: the values would be lost).
 */
export function columnChanges(meta: TableMeta, stored: CatalogueEntry): ColumnChanges {
  const declared = declaredColumns(meta);
  const what = `table ${meta.name}`;
  if (declared.keyColumns.join('\u0000') !== stored.keyColumns.join('\u0000') || declared.keyTypes.join('\u0000') !== stored.keyTypes.join('\u0000')) {
    throw new SchemaError(
      `${what}: its primary key is stored as (${describe(stored.keyColumns, stored.keyTypes)}) and declared as (${describe(declared.keyColumns, declared.keyTypes)}); a primary key is never altered: create a table with the new key, copy the rows in transactions, then drop the old table`,
    );
  }
  const storedType = new Map(stored.valueColumns.map((name, i) => [name, stored.valueTypes[i]!]));
  const values = meta.columns.filter((c) => !meta.primaryKey.includes(c));
  for (const column of values) {
    const type = storedType.get(column.name);
    if (type !== undefined && type !== storageType(column.sqlType)) {
      throw new SchemaError(
        `${what}: column ${column.name} is stored as ${type} and declared as ${storageType(column.sqlType)}; a column's type is never altered: add a column of the new type, copy the values in transactions, deploy code that uses it, then drop the old column`,
      );
    }
  }
  const added = values.filter((c) => !storedType.has(c.name));
  const declaredNames = new Set(values.map((c) => c.name));
  const dropped = stored.valueColumns.filter((name) => !declaredNames.has(name));
  if (added.length > 0 && dropped.length > 0) {
    throw new SchemaError(
      `${what}: the declaration drops column(s) ${dropped.join(', ')} and adds ${added.map((c) => c.name).join(', ')} at once, which may be a rename (its values would be lost); columns are never renamed: add the new column first (migrate, copy the values in transactions, deploy code that uses it), then drop the old one in a later migrate`,
    );
  }
  return { added, dropped };
}

/**
 * The DDL that applies `changes` to the table's three storage tables on a
 * shard, inside migrate()'s local transaction. An added column gets the
 * fill as its storage default: existing versions, lock images and latest
 * rows read it without a rewrite, and so does a row a statement writes
 * without naming the column. The prewrite function's other signatures
 * become stubs refusing their callers, and the lock function (whose result
 * lists the columns) is dropped for its migration to create it again.
 */
export function columnChangeSql(meta: TableMeta, changes: ColumnChanges, fill: ColumnFill): string[] {
  const storages = [meta.locksTable, meta.versionsTable, meta.latestTable].map(ident);
  const statements = [`lock table ${storages.join(', ')} in access exclusive mode`];
  for (const column of changes.added) {
    const type = storageType(column.sqlType);
    const value = fill(meta, column);
    const defaultSql = value === null ? '' : ` default ${literal(value)}::${type}`;
    for (const table of storages) statements.push(`alter table ${table} add column ${ident(column.name)} ${type}${defaultSql}`);
  }
  for (const name of changes.dropped) {
    for (const table of storages) statements.push(`alter table ${table} drop column ${ident(name)}`);
  }
  const storage = new TableSql(meta);
  statements.push(retirePrewriteOverloadsSql(storage), `drop function if exists ${new PessimisticLockStatements(storage).lockFunction}`);
  return statements;
}

function describe(names: readonly string[], types: readonly string[]): string {
  return names.map((name, i) => `${name} ${types[i]}`).join(', ');
}
