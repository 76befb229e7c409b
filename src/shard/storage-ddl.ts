import { InstallationError } from '../errors.js';
import { ident, literal, storageType } from '../schema/sql-names.js';
import { PessimisticLockStatements } from './pessimistic-lock-statements.js';
import { prewriteFunctionSql } from './prewrite-statements.js';
import { TableSql } from './table-sql.js';
import { catalogueRowVars } from './table-catalogue.js';
import { readSchemaFile } from '../schema/schema-files.js';
import type { TableMeta } from '../schema/table-meta.js';

export interface Migration {
  /** Unique per shard, e.g. `table/accounts/0001-storage`. */
  readonly name: string;
  readonly sql: string;
  /** Idempotent replacement (create or replace function): a new text is applied again instead of refused. */
  readonly replaceable?: boolean;
  /**
   * The table whose columns the text spells out: when migrate() altered
   * them (column-changes.ts), a changed text is recorded, not refused.
   */
  readonly columnsOf?: string;
  /**
   * An index's storage: at its first application, `lock` then `hasRows`; a
   * row means the table already has rows, and the index is catalogued as
   * 'building' until it is filled in (src/txn/index-backfill.ts).
   */
  readonly newIndex?: { readonly name: string; readonly lock: string; readonly hasRows: string } | undefined;
  /** At its first application, the slot column of this table's stored rows is filled in (slot-column-fill.ts). */
  readonly fillsSlotsOf?: TableMeta | undefined;
}

/** Shard-wide migrations (bookkeeping), in order. */
export function coreMigrations(): Migration[] {
  return [
    { name: 'core/0001-migrations-table', sql: readSchemaFile('core/0001-migrations-table.sql') },
    { name: 'core/0002-gc-safe-point', sql: readSchemaFile('core/0002-gc-safe-point.sql') },
    { name: 'core/0003-table-catalogue', sql: readSchemaFile('core/0003-table-catalogue.sql') },
    { name: 'core/0004-shard-identity', sql: readSchemaFile('core/0004-shard-identity.sql') },
    { name: 'core/0005-shard-identity-complete', sql: readSchemaFile('core/0005-shard-identity-complete.sql') },
    { name: 'core/0006-index-catalogue', sql: readSchemaFile('core/0006-index-catalogue.sql') },
    { name: 'core/0007-schema-versions', sql: readSchemaFile('core/0007-schema-versions.sql'), replaceable: true },
    { name: 'core/0008-slot-ownership', sql: readSchemaFile('core/0008-slot-ownership.sql') },
    { name: 'core/0009-slot-history', sql: readSchemaFile('core/0009-slot-history.sql') },
    { name: 'core/0010-slot-move-journal', sql: readSchemaFile('core/0010-slot-move-journal.sql') },
  ];
}

/**
 * The storage migrations of one user table, rendered from the templates in
 * schema/table/ with the table's typed columns. User columns are nullable in
 * storage (a `del` version or a lock-only row carries no image); not-null
 * and defaults are the client's checks before anything is written.
 */
export function tableMigrations(table: TableMeta): Migration[] {
  const valueColumns = table.columns.filter((c) => !table.primaryKey.includes(c));
  const vars: Record<string, string> = {
    versions: ident(table.versionsTable),
    locks: ident(table.locksTable),
    locks_start_index: ident(`${table.locksTable}_start_ts`),
    pk_defs: table.primaryKey.map((c) => `${ident(c.name)} ${storageType(c.sqlType)} not null`).join(',\n  '),
    value_defs: valueColumns.map((c) => `${ident(c.name)} ${storageType(c.sqlType)},\n  `).join(''),
    pk_list: table.primaryKey.map((c) => ident(c.name)).join(', '),
    latest: ident(table.latestTable),
    latest_regclass: literal(ident(table.latestTable)),
    latest_op_check: ident(`${table.latestTable}_op`),
    value_list: valueColumns.map((c) => `, ${ident(c.name)}`).join(''),
    ...catalogueRowVars(table),
  };
  const render = (file: string): string =>
    readSchemaFile(file).replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
      const value = vars[name];
      if (value === undefined) throw new InstallationError(`unknown placeholder ${name} in schema/${file}`);
      return value;
    });
  const sql = render('table/0001-storage.sql');
  const storage = new TableSql(table);
  const prewrite = readSchemaFile('table/0002-prewrite-function.sql').replace('{{prewrite_function}}', () => prewriteFunctionSql(storage));
  const lockKeys = readSchemaFile('table/0006-lock-keys-function.sql').replace('{{lock_keys_function}}', () => new PessimisticLockStatements(storage).lockKeysFunctionSql());
  return [
    { name: `table/${table.name}/0001-storage`, sql, newIndex: table.indexOf && newIndexCheck(table), columnsOf: table.name },
    { name: `table/${table.name}/0002-prewrite-function`, sql: prewrite, replaceable: true },
    { name: `table/${table.name}/0003-locks-autovacuum`, sql: render('table/0003-locks-autovacuum.sql'), replaceable: true },
    { name: `table/${table.name}/0004-min-commit-ts`, sql: render('table/0004-min-commit-ts.sql') },
    { name: `table/${table.name}/0005-pessimistic-locks`, sql: render('table/0005-pessimistic-locks.sql') },
    { name: `table/${table.name}/0006-lock-keys-function`, sql: lockKeys, replaceable: true },
    { name: `table/${table.name}/0007-latest-versions`, sql: render('table/0007-latest-versions.sql'), columnsOf: table.name },
    { name: `table/${table.name}/0008-table-catalogue`, sql: render('table/0008-table-catalogue.sql'), replaceable: true },
    { name: `table/${table.name}/0009-slot-column`, sql: render('table/0009-slot-column.sql'), fillsSlotsOf: table },
    { name: `table/${table.name}/0010-latest-op-char`, sql: render('table/0010-latest-op-char.sql') },
  ];
}

/**
 * An index added to a table that already has rows has no entries for them
 * until it is filled in: it is catalogued 'building' (readers do not use
 * it), and migrate()'s caller builds it. Rows pending in locks count too.
 * The table's own storage is migrated before its indexes', so its tables
 * exist here. The table lock (taken first) makes the check and the fence
 * exact on this shard: a prewrite of the table either committed before (its
 * lock row is seen here, and the backfill waits for it) or runs its fence
 * check after the index's catalogue row is committed (and is refused if its
 * schema lacks the index).
 */
function newIndexCheck(storage: TableMeta): { name: string; lock: string; hasRows: string } {
  const table = storage.indexOf!.table;
  return {
    name: storage.name,
    lock: `lock table ${ident(table.locksTable)} in share row exclusive mode`,
    hasRows: `(select 1 from ${ident(table.latestTable)} where op = 'put' limit 1) union all (select 1 from ${ident(table.locksTable)} where op = 'put' limit 1) limit 1`,
  };
}
