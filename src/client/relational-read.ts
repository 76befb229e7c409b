import { getOperators, getOrderByOperators, getTableUniqueName, normalizeRelation, One, type Relation, type SQL, type TableRelationalConfig } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError, SchemaError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { isEntity } from './drizzle-entity.js';
import { checkFilter } from './filter-validation.js';
import { isLookupable, matchText, MAX_JOIN_ROWS, readByValues } from './lookup-read.js';
import { rowComparator } from './merge-ordered.js';
import { parseOrderBy } from './order-by.js';
import type { QueryContext, Session } from './query-context.js';
import { checkCount } from './query-window.js';
import { readRows } from './read-rows.js';

/** @internal What findMany/findFirst take (drizzle's DBQueryConfig), as the client reads it at run time. */
export interface FindConfig {
  readonly columns?: Record<string, boolean | undefined> | undefined;
  readonly with?: Record<string, true | FindConfig | undefined> | undefined;
  readonly where?: unknown;
  readonly orderBy?: unknown;
  readonly limit?: unknown;
  readonly offset?: unknown;
}

const ROOT_KEYS = new Set(['columns', 'with', 'where', 'orderBy', 'limit', 'offset']);
const MANY_KEYS = new Set(['columns', 'with', 'where', 'orderBy', 'limit']);
const ONE_KEYS = new Set(['columns', 'with']);

/**
 * @internal `db.query.<table>.findMany(config)`: the table's rows (where,
 * orderBy, limit, offset read as a select reads them), then each relation
 * of `with`, level by level: the related rows of all parents at once, by
 * the relation's columns (lookup reads by key, shard key or index, in
 * batches), ordered and limited per parent on the client; every read at
 * the session's one snapshot.
 */
export async function findRows(context: QueryContext, session: Session, tsName: string, config: FindConfig): Promise<Row[]> {
  const table = tableConfigOf(context, tsName);
  const meta = metaOf(context, table);
  checkKeys(config, ROOT_KEYS, `db.query.${tsName}`);
  const rows = await readRows(context, session, {
    meta,
    where: whereOf(meta, table, config.where, `db.query.${tsName} where`),
    orderBy: orderOf(meta, table, config.orderBy),
    limit: countOf(config.limit, 'limit'),
    offset: countOf(config.offset, 'offset'),
  });
  return shape(context, session, table, rows, config, `db.query.${tsName}`);
}

/** Rows of `table` as the config selects them: the chosen columns, and each relation of `with`. */
async function shape(context: QueryContext, session: Session, table: TableRelationalConfig, rows: readonly Row[], config: FindConfig, path: string): Promise<Row[]> {
  const shaped = rows.map((row) => pickColumns(row, config.columns, path));
  for (const [name, nested] of Object.entries(config.with ?? {})) {
    if (nested === undefined || (nested as unknown) === false) continue;
    const relation = table.relations[name];
    if (!relation) throw new InvalidInputError(`${path}: with.${name} is not a relation of ${table.tsName} (relations: ${Object.keys(table.relations).join(', ') || 'none'}; declare them with drizzle's relations())`);
    const related = await relatedRows(context, session, table, relation, rows, nested === true ? {} : nested, `${path}.${name}`);
    shaped.forEach((row, i) => (row[name] = related[i]));
  }
  return shaped;
}

/** Per parent row, its related row (one: or null) or rows (many), shaped by the nested config. */
async function relatedRows(context: QueryContext, session: Session, table: TableRelationalConfig, relation: Relation, parents: readonly Row[], config: FindConfig, path: string): Promise<unknown[]> {
  const { tables, tableNamesMap } = context.tables.relational;
  const one = isEntity(relation, One);
  checkKeys(config, one ? ONE_KEYS : MANY_KEYS, path);
  const target = tables[tableNamesMap[getTableUniqueName(relation.referencedTable)] ?? ''];
  if (!target) throw new SchemaError(`${path}: the relation's table ${relation.referencedTableName} is not in the schema given to percolator()`);
  const sourceMeta = metaOf(context, table);
  const targetMeta = metaOf(context, target);
  const { fields, references } = normalized(tables, tableNamesMap, relation, path);
  const sources = fields.map((f) => columnOf(sourceMeta, f as PgColumn));
  const targets = references.map((r) => columnOf(targetMeta, r as PgColumn));
  if (!isLookupable(targetMeta, targets)) {
    throw new InvalidInputError(
      `${path}: ${targetMeta.name} is found by ${targets.map((c) => `${targetMeta.name}.${c.key}`).join(', ')}, neither its shard key nor the leading columns of an index, so every shard would be scanned; declare an index on them or make them ${targetMeta.name}'s shard key`,
    );
  }
  const wanted = new Map<string, unknown[]>();
  for (const parent of parents) {
    const values = sources.map((c) => parent[c.key]);
    if (values.every((v) => v !== null && v !== undefined)) wanted.set(matchText(sources, values), values);
  }
  const where = whereOf(targetMeta, target, config.where, `${path} where`);
  const found = await readByValues(context, session, targetMeta, targets, [...wanted.values()], where);
  const all = [...new Set([...found.values()].flat())];
  if (all.length > MAX_JOIN_ROWS) throw new InvalidInputError(`${path}: more than ${MAX_JOIN_ROWS} related rows (MAX_JOIN_ROWS): filter the parents or the related rows more, or limit them`);
  const shaped = await shape(context, session, target, all, config, path);
  const shapedOf = new Map(all.map((row, i) => [row, shaped[i]!]));
  const order = orderOf(targetMeta, target, config.orderBy);
  const compare = order.length > 0 ? rowComparator(order) : undefined;
  const limit = countOf(config.limit, 'limit');
  return parents.map((parent) => {
    const values = sources.map((c) => parent[c.key]);
    const matches = values.every((v) => v !== null && v !== undefined) ? [...(found.get(matchText(sources, values)) ?? [])] : [];
    if (one) return matches[0] ? shapedOf.get(matches[0]) : null;
    if (compare) matches.sort(compare);
    return matches.slice(0, limit).map((row) => shapedOf.get(row));
  });
}

/** drizzle's fields and references of a relation (a many relation's from its one side); a relation drizzle cannot resolve is a SchemaError. */
function normalized(tables: Parameters<typeof normalizeRelation>[0], tableNamesMap: Record<string, string>, relation: Relation, path: string) {
  try {
    return normalizeRelation(tables, tableNamesMap, relation);
  } catch (error) {
    throw new SchemaError(`${path}: ${(error as Error).message}`, { cause: error });
  }
}

function tableConfigOf(context: QueryContext, tsName: string): TableRelationalConfig {
  const table = context.tables.relational.tables[tsName];
  if (!table) throw new InvalidInputError(`db.query.${tsName}: no table of the schema is named ${tsName}`);
  return table;
}

function metaOf(context: QueryContext, table: TableRelationalConfig): TableMeta {
  const column = Object.values(table.columns)[0] as PgColumn;
  return context.tables.metaOf(column.table as PgTable);
}

function columnOf(meta: TableMeta, column: PgColumn): ColumnMeta {
  return meta.columns.find((c) => c.column === column)!;
}

function whereOf(meta: TableMeta, table: TableRelationalConfig, where: unknown, clause: string): SQL | undefined {
  const condition = typeof where === 'function' ? (where as (fields: unknown, operators: unknown) => unknown)(table.columns, getOperators()) : where;
  return checkFilter(meta, condition, clause);
}

function orderOf(meta: TableMeta, table: TableRelationalConfig, orderBy: unknown) {
  const terms = typeof orderBy === 'function' ? (orderBy as (fields: unknown, operators: unknown) => unknown)(table.columns, getOrderByOperators()) : orderBy;
  if (terms === undefined) return [];
  return parseOrderBy(meta, Array.isArray(terms) ? terms : [terms]);
}

function countOf(value: unknown, name: string): number | undefined {
  if (value !== undefined && typeof value !== 'number') throw new InvalidInputError(`${name} must be a non-negative integer (placeholders are not supported), got ${String(value)}`);
  return checkCount(value, name);
}

function checkKeys(config: object, allowed: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(config)) {
    if ((config as Record<string, unknown>)[key] === undefined || allowed.has(key)) continue;
    const why = key === 'extras' ? 'extras (computed SQL fields) are not supported: compute them from the rows in JS' : `${key} is not an option here (options: ${[...allowed].join(', ')})`;
    throw new InvalidInputError(`${path}: ${why}`);
  }
}

/** drizzle's `columns`: `{ a: true }` keeps only the true ones, `{ a: false }` drops the false ones. */
function pickColumns(row: Row, columns: FindConfig['columns'], path: string): Row {
  if (columns === undefined) return { ...row };
  if (typeof columns !== 'object' || columns === null) throw new InvalidInputError(`${path}: columns must be an object such as { id: true }`);
  const entries = Object.entries(columns).filter(([, v]) => v !== undefined);
  for (const [key] of entries) if (!(key in row)) throw new InvalidInputError(`${path}: columns.${key} is not a column`);
  const include = entries.some(([, v]) => v === true);
  const out: Row = {};
  for (const key of Object.keys(row)) {
    const chosen = columns[key];
    if (include ? chosen === true : chosen !== false) out[key] = row[key];
  }
  return out;
}
