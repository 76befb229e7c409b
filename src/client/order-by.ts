import { Column, SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import { checkOwnColumn } from './filter-validation.js';
import { chunkText, meaningfulChunks } from './sql-chunks.js';
import { isEntity } from './drizzle-entity.js';

/** @internal One ordering term: a column of the table and a direction. */
export interface OrderTerm {
  readonly column: ColumnMeta;
  readonly direction: 'asc' | 'desc';
}

/** Column types the client can compare exactly as Postgres orders them. */
const ORDERABLE_DATA_TYPES = new Set(['number', 'bigint', 'string', 'boolean', 'date']);
const UNORDERABLE_COLUMN_TYPES = new Set(['PgJson', 'PgInterval', 'PgInet', 'PgCidr', 'PgMacaddr', 'PgMacaddr8', 'PgCustomColumn']);
/** String types whose SQL order must be forced to byte order to match the client's merge. */
const COLLATED_COLUMN_TYPES = new Set(['PgText', 'PgVarchar', 'PgChar']);

/**
 * @internal Parses orderBy arguments: bare columns (ascending), asc(col) and
 * desc(col) of the queried table. Expressions are refused: rows from several
 * shards are merged on the client, which must compare them exactly as
 * Postgres ordered them.
 */
export function parseOrderBy(meta: TableMeta, terms: readonly unknown[]): OrderTerm[] {
  return terms.map((term) => {
    const [column, direction] = columnAndDirection(meta, term);
    checkOwnColumn(meta, column, 'orderBy');
    const columnMeta = meta.columns.find((c) => c.column === column)!;
    if (!ORDERABLE_DATA_TYPES.has(column.dataType) || UNORDERABLE_COLUMN_TYPES.has(column.columnType)) {
      throw new InvalidInputError(`orderBy on ${meta.name}.${columnMeta.key}: ${columnMeta.sqlType} columns cannot be merged across shards in Postgres order`);
    }
    return { column: columnMeta, direction };
  });
}

/**
 * @internal The ordering pushed to each shard. Text is ordered with the "C"
 * collation (byte order of UTF-8 = code point order), whatever the shard's
 * default collation, so that the client's merge agrees with every shard.
 */
export function orderBySql(terms: readonly OrderTerm[]): SQL[] {
  return terms.map((term) => {
    const expression = orderedExpression(term);
    return term.direction === 'asc' ? sql`${expression} asc` : sql`${expression} desc`;
  });
}

/** @internal The expression a term orders by, without its direction (what a `distinct on` over the leading terms must repeat). */
export function orderedExpression({ column }: OrderTerm): SQL {
  return COLLATED_COLUMN_TYPES.has(column.column.columnType) ? sql`${column.column} collate "C"` : sql`${column.column}`;
}

function columnAndDirection(meta: TableMeta, term: unknown): [PgColumn, 'asc' | 'desc'] {
  if (isEntity(term, Column)) return [term as PgColumn, 'asc'];
  if (isEntity(term, SQL)) {
    const chunks = meaningfulChunks(term);
    const direction = chunkText(chunks[1])?.trim();
    if (chunks.length === 2 && isEntity(chunks[0], Column) && (direction === 'asc' || direction === 'desc')) return [chunks[0] as PgColumn, direction];
  }
  throw new InvalidInputError(`orderBy on ${meta.name}: use columns of ${meta.name}, asc(column) or desc(column); expressions cannot be merged across shards`);
}
