import type { getTableConfig } from 'drizzle-orm/pg-core';
import { SchemaError } from '../errors.js';

type TableConfig = ReturnType<typeof getTableConfig>;

/**
 * What a `pgTable` may declare that this layer does not enforce: refused
 * at percolator() with SchemaError, never silently ignored (an application
 * would believe Postgres keeps a rule that nothing keeps across shards).
 * Indexes and unique constraints are kept (table-indexes.ts); primary
 * keys, not-null, defaults and enum types are kept by the client.
 * - foreign keys (`.references()`, `foreignKey()`): no parent check on
 *   insert nor action on delete across shards;
 * - `check()` constraints: never evaluated;
 * - `generatedAlwaysAs()` columns: never computed;
 * - row-level security (`pgPolicy`, `.enableRLS()`): every client reads
 *   and writes the storage tables directly.
 */
export function refuseUnsupported(config: TableConfig): void {
  const where = `table ${config.name}`;
  const fk = config.foreignKeys[0];
  if (fk) {
    const reference = fk.reference();
    const columns = reference.columns.map((c) => c.name).join(', ');
    throw new SchemaError(
      `${where}: foreign key ${fk.getName()} (${columns}) is not enforced across shards; remove .references()/foreignKey() from the declaration and check the parent in the transaction`,
    );
  }
  const check = config.checks[0];
  if (check) throw new SchemaError(`${where}: check constraint ${check.name} is not enforced; remove check() and validate the values before writing`);
  const generated = config.columns.find((c) => c.generated !== undefined);
  if (generated) throw new SchemaError(`${where}: column ${generated.name} is generatedAlwaysAs(); generated columns are not computed; compute the value and write it`);
  if (config.policies.length > 0 || config.enableRLS) {
    throw new SchemaError(`${where}: row-level security (pgPolicy, enableRLS) is not enforced: every client reads the storage tables directly`);
  }
}
