import { Column, getTableName, Param, Placeholder, SQL, StringChunk, Subquery, Table, View } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import { checkColumnValue, describeValue } from './column-value.js';
import { isEntity } from './drizzle-entity.js';

/**
 * @internal Checks a drizzle condition before it is pushed into SQL on the
 * shards: it must be drizzle SQL, may reference only columns of the queried
 * table (it runs against that table's storage, aliased to its name), no other
 * tables or subqueries, and values bound to a column must fit that column.
 */
export function checkFilter(meta: TableMeta, where: unknown, clause: string): SQL | undefined {
  if (where === undefined) return undefined;
  if (!isEntity(where, SQL)) {
    throw new InvalidInputError(`${clause} on ${meta.name}: expected a drizzle condition such as eq(${meta.name}.${meta.primaryKey[0]!.key}, 1), got ${describeValue(where)}`);
  }
  visit(meta, where, clause);
  return where;
}

function visit(meta: TableMeta, chunk: unknown, clause: string): void {
  if (chunk === undefined || chunk === null || typeof chunk !== 'object' || isEntity(chunk, StringChunk)) return;
  if (Array.isArray(chunk)) {
    for (const item of chunk) visit(meta, item, clause);
  } else if (isEntity(chunk, SQL)) {
    for (const item of chunk.queryChunks) visit(meta, item, clause);
  } else if (isEntity(chunk, SQL.Aliased)) {
    visit(meta, chunk.sql, clause);
  } else if (isEntity(chunk, Column)) {
    checkOwnColumn(meta, chunk as PgColumn, clause);
  } else if (isEntity(chunk, Param)) {
    checkParam(meta, chunk, clause);
  } else if (isEntity(chunk, Placeholder)) {
    throw new InvalidInputError(`${clause} on ${meta.name}: placeholders (sql.placeholder) are not supported; pass values directly`);
  } else if (isEntity(chunk, Subquery) || isEntity(chunk, Table) || isEntity(chunk, View)) {
    throw new InvalidInputError(`${clause} on ${meta.name}: subqueries and references to other tables are not supported; a filter runs on one table's rows`);
  }
}

/** @internal Throws unless `column` is a column of the queried table. */
export function checkOwnColumn(meta: TableMeta, column: PgColumn, clause: string): void {
  if (column.table === meta.table) return;
  throw new InvalidInputError(
    `${clause} on ${meta.name} references column ${getTableName(column.table)}.${column.name} of another table; only columns of ${meta.name} can be used`,
  );
}

function checkParam(meta: TableMeta, param: Param, clause: string): void {
  const encoder = param.encoder as unknown;
  if (!isEntity(encoder, Column) || param.value === null || param.value === undefined) return;
  const column = encoder as PgColumn;
  checkOwnColumn(meta, column, clause);
  const problem = checkColumnValue(column, param.value);
  if (problem) throw new InvalidInputError(`${clause} on ${meta.name}: value compared with ${meta.name}.${column.name} (${column.getSQLType()}): ${problem}`);
}
