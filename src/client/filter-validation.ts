import { Column, getTableName, Name, Param, Placeholder, SQL, StringChunk, Subquery, Table, View } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import { checkColumnValue, describeValue } from './column-value.js';
import { isEntity } from './drizzle-entity.js';
import { AGGREGATE_WORDS, COLUMN_MARK, forbiddenFilterText, VALUE_MARK } from './filter-text.js';

/**
 * @internal Checks a drizzle condition before it is pushed into SQL on the
 * shards: it must be drizzle SQL, may reference only columns of the queried
 * table (it runs against that table's storage, aliased to its name), no other
 * tables, subqueries, names or placeholders; the text of its raw `sql`
 * fragments may hold only what filter-text.ts allows; and values bound to a
 * column must fit that column.
 */
export function checkFilter(meta: TableMeta, where: unknown, clause: string, options: { aggregates?: boolean; joined?: readonly TableMeta[] } = {}): SQL | undefined {
  if (where === undefined) return undefined;
  if (!isEntity(where, SQL)) {
    throw new InvalidInputError(`${clause} on ${meta.name}: expected a drizzle condition such as eq(${meta.name}.${meta.primaryKey[0]!.key}, 1), got ${describeValue(where)}`);
  }
  const text: string[] = [];
  visit({ meta, joined: options.joined ?? [] }, where, clause, text);
  const forbidden = forbiddenFilterText(text.join(''), options.aggregates ? AGGREGATE_WORDS : undefined);
  if (forbidden !== undefined) {
    throw new InvalidInputError(
      `${clause} on ${meta.name}: a sql fragment of the filter contains ${forbidden}; a fragment may use only columns of ${meta.name} (interpolated as \${${meta.name}.column}), values, operators, numbers, strings and the words and functions listed in docs/CLIENT.md`,
    );
  }
  return where;
}

/** Walks the condition as drizzle renders it, checking entities and collecting the text (columns and values as marks). */
function visit(tables: FilterTables, chunk: unknown, clause: string, text: string[]): void {
  const { meta } = tables;
  if (chunk === undefined) return;
  if (typeof chunk === 'function') {
    throw new InvalidInputError(`${clause} on ${meta.name}: a function (such as a pgEnum) cannot be part of a filter`);
  }
  if (chunk === null || typeof chunk !== 'object') {
    text.push(VALUE_MARK);
  } else if (isEntity(chunk, StringChunk)) {
    text.push(chunk.value.join(''));
  } else if (Array.isArray(chunk)) {
    text.push('(');
    chunk.forEach((item, i) => {
      if (i > 0) text.push(', ');
      visit(tables, item, clause, text);
    });
    text.push(')');
  } else if (isEntity(chunk, SQL)) {
    if ((chunk as unknown as { shouldInlineParams?: boolean }).shouldInlineParams) {
      throw new InvalidInputError(`${clause} on ${meta.name}: sql.inlineParams() is not supported in a filter; values are sent as bound parameters`);
    }
    for (const item of chunk.queryChunks) visit(tables, item, clause, text);
  } else if (isEntity(chunk, Column)) {
    checkTablesColumn(tables, chunk as PgColumn, clause);
    text.push(COLUMN_MARK);
  } else if (isEntity(chunk, Param)) {
    if (isEntity(chunk.value, Placeholder)) throw placeholderError(meta, clause);
    checkParam(tables, chunk, clause);
    // drizzle renders a parameter whose driver value is SQL as that SQL: check it as such.
    const driverValue = chunk.value === null ? null : chunk.encoder.mapToDriverValue(chunk.value);
    if (isEntity(driverValue, SQL)) visit(tables, driverValue, clause, text);
    else text.push(VALUE_MARK);
  } else if (isEntity(chunk, Placeholder)) {
    throw placeholderError(meta, clause);
  } else if (isEntity(chunk, Subquery) || isEntity(chunk, Table) || isEntity(chunk, View)) {
    throw new InvalidInputError(`${clause} on ${meta.name}: subqueries and references to other tables are not supported; a filter runs on one table's rows`);
  } else if (isEntity(chunk, Name) || isEntity(chunk, SQL.Aliased)) {
    throw new InvalidInputError(`${clause} on ${meta.name}: names (sql.identifier) and aliases (.as()) are not supported in a filter; interpolate columns of ${meta.name}`);
  } else if (typeof (chunk as { getSQL?: unknown }).getSQL === 'function') {
    throw new InvalidInputError(`${clause} on ${meta.name}: ${describeValue(chunk)} cannot be part of a filter (queries and other SQL builders are not supported)`);
  } else {
    text.push(VALUE_MARK); // any other object is bound as a value, as drizzle does
  }
}

function placeholderError(meta: TableMeta, clause: string): InvalidInputError {
  return new InvalidInputError(`${clause} on ${meta.name}: placeholders (sql.placeholder) are not supported; pass values directly`);
}

/** @internal Throws unless `column` is a column of the queried table. */
export function checkOwnColumn(meta: TableMeta, column: PgColumn, clause: string): void {
  if (column.table === meta.table) return;
  throw new InvalidInputError(
    `${clause} on ${meta.name} references column ${getTableName(column.table)}.${column.name} of another table; only columns of ${meta.name} can be used`,
  );
}

/** The queried table, and the tables joined to it (a join's where and on may use their columns too). */
interface FilterTables {
  readonly meta: TableMeta;
  readonly joined: readonly TableMeta[];
}

function checkTablesColumn(tables: FilterTables, column: PgColumn, clause: string): void {
  if (tables.joined.some((t) => t.table === column.table)) return;
  if (tables.joined.length === 0) return checkOwnColumn(tables.meta, column, clause);
  throw new InvalidInputError(
    `${clause} references column ${getTableName(column.table)}.${column.name} of a table that is not part of the join (${tables.joined.map((t) => t.name).join(', ')})`,
  );
}

function checkParam(tables: FilterTables, param: Param, clause: string): void {
  const { meta } = tables;
  const encoder = param.encoder as unknown;
  if (!isEntity(encoder, Column) || param.value === null || param.value === undefined) return;
  const column = encoder as PgColumn;
  checkTablesColumn(tables, column, clause);
  const problem = checkColumnValue(column, param.value);
  if (problem) throw new InvalidInputError(`${clause} on ${meta.name}: value compared with ${getTableName(column.table)}.${column.name} (${column.getSQLType()}): ${problem}`);
}
