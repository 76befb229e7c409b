import { Column, SQL, sql } from 'drizzle-orm';
import { InvalidInputError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { isEntity } from './drizzle-entity.js';
import { checkFilter } from './filter-validation.js';
import { analyzeKeyFilter } from './key-filter.js';
import type { QueryContext, Session } from './query-context.js';
import { keyString } from './row-key.js';
import { checkComputedValues, checkSetValues } from './row-validation.js';
import { pinnedShards } from './shard-pinning.js';

/** @internal A column set by an SQL expression over the row's own columns. */
export interface SetExpression {
  readonly column: ColumnMeta;
  readonly value: SQL;
}

/** @internal `set()` values split into plain values (validated) and SQL expressions (fragment-checked, evaluated on the shards). */
export interface UpdateValues {
  readonly values: Row;
  readonly expressions: readonly SetExpression[];
}

/**
 * @internal Splits and checks an update's `set()`: plain values as before;
 * a drizzle `sql` expression or a column of the table (`set({ a: t.b })`)
 * is an expression over the row's own columns, checked as a filter
 * fragment is (filter-validation.ts, filter-text.ts). Primary-key columns
 * cannot be set by an expression.
 */
export function splitSetValues(meta: TableMeta, input: unknown, clause: string): UpdateValues {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { values: checkSetValues(meta, input), expressions: [] };
  const plain: Row = {};
  const expressions: SetExpression[] = [];
  for (const [key, value] of Object.entries(input as Row)) {
    const column = meta.columnsByKey.get(key);
    if (!column || !(isEntity(value, SQL) || isEntity(value, Column))) {
      plain[key] = value;
      continue;
    }
    if (meta.primaryKey.includes(column)) {
      throw new InvalidInputError(`${clause}: primary-key column ${meta.name}.${key} cannot be set by an expression; delete the row and insert a new one`);
    }
    const expression = isEntity(value, Column) ? sql`${value}` : (value as SQL);
    expressions.push({ column, value: checkFilter(meta, expression, `${clause} ${key}`)! });
  }
  const values = checkSetValues(meta, plain, new Set(expressions.map((e) => e.column.key)));
  return { values, expressions };
}

/**
 * @internal The new full images of the rows matching `where`, in a session:
 * the rows are read at the snapshot (with the transaction's own writes, and
 * the newest version of rows it locked with `for('update')`) and every
 * expression is evaluated on their shard against them, in the same
 * statement (a projected read: the read statement with the expressions as
 * computed columns, converted to their columns' types). Plain values
 * replace their columns. The caller buffers the images: a concurrent
 * writer of any of these rows then makes one of the two fail with a write
 * conflict (and be retried), so no update is lost.
 */
export async function computeNewImages(context: QueryContext, session: Session, meta: TableMeta, where: SQL | undefined, update: UpdateValues, clause: string): Promise<Row[]> {
  const shards = pinnedShards(meta, where, (row) => context.shardOf(meta, row), where && analyzeKeyFilter(meta, where));
  if (shards?.length === 0) return [];
  const columns = meta.columns;
  const rows = await session.engineTx.project(meta, {
    where,
    select: [...columns.map((c) => sql`${c.column}`), ...update.expressions.map((e) => e.value)],
    assignTo: [...columns.map(() => undefined), ...update.expressions.map((e) => e.column)],
    shards,
  });
  return rows.map((raw) => {
    const image: Row = {};
    columns.forEach((c, i) => (image[c.key] = fromDriver(c, raw[i])));
    const computed: Row = {};
    update.expressions.forEach((e, i) => (computed[e.column.key] = fromDriver(e.column, raw[columns.length + i])));
    checkComputedValues(meta, computed, clause);
    const updated = { ...image, ...update.values, ...computed };
    if (meta.primaryKey.some((c) => keyString([updated[c.key]]) !== keyString([image[c.key]]))) {
      throw new InvalidInputError(`${clause}: primary-key columns cannot change; delete the row and insert a new one`);
    }
    return updated;
  });
}

/** @internal A raw value read from a shard, as drizzle maps it for the column. */
export function fromDriver(column: ColumnMeta, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return (column.column as unknown as { mapFromDriverValue(v: unknown): unknown }).mapFromDriverValue(value);
}
