import { SQL } from 'drizzle-orm';
import { SchemaError } from '../errors.js';
import type { ColumnFill } from '../shard/column-changes.js';
import { toDriverText } from '../shard/driver-values.js';
import { isEntity } from './drizzle-entity.js';
import { isRandomSqlDefault, sqlDefaultEvaluator } from './sql-default.js';

/**
 * What existing rows read in a column that migrate() adds to a stored
 * table: its default evaluated once (a literal, a JS value, `now()` at the
 * time of the migration, as Postgres's own ADD COLUMN does), or NULL when
 * it has none. A default drawn per row (`defaultRandom()`, `$defaultFn`)
 * cannot give every existing row its own value: NULL for a nullable column;
 * a not-null column without a constant default is a SchemaError (existing
 * rows would break its constraint).
 */
export const addedColumnFill: ColumnFill = (table, meta) => {
  const column = meta.column;
  const where = `table ${table.name}: column ${meta.name}, added to stored rows,`;
  let value: unknown = null;
  let perRow = column.defaultFn !== undefined;
  if (column.default !== undefined) {
    if (isEntity(column.default, SQL)) {
      perRow = isRandomSqlDefault(column);
      if (!perRow) value = sqlDefaultEvaluator(column, where)();
    } else {
      value = column.default;
    }
  }
  if (value === null && meta.notNull) {
    throw new SchemaError(
      `${where} is not null ${perRow ? 'with a default drawn per row' : 'without a default'}: existing rows need one value. Give it a constant default, or add it as nullable, fill it in transactions, then declare it not null`,
    );
  }
  return toDriverText(meta, value);
};
