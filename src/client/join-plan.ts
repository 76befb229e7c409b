import { and, Column, getTableName, SQL, Table } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import { storageType } from '../schema/sql-names.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import { isEntity } from './drizzle-entity.js';
import { checkFilter } from './filter-validation.js';
import { areKeyColumns } from './key-filter.js';
import { parseOrderBy, type OrderTerm } from './order-by.js';
import { chunkText, junctionOperands, meaningfulChunks } from './sql-chunks.js';
import type { TableRegistry } from './table-registry.js';

/** @internal A join as the builder collected it, before any check. */
export interface JoinConfig {
  readonly table: PgTable;
  readonly joins: readonly { readonly kind: 'inner' | 'left'; readonly table: PgTable; readonly on: unknown }[];
  readonly where?: unknown;
  readonly orderBy: readonly unknown[];
}

/** @internal An equality of the `on` condition: a column of an earlier table = a column of the joined one. */
export interface JoinEquality {
  readonly earlier: { readonly t: number; readonly column: ColumnMeta };
  readonly column: ColumnMeta;
}

/** @internal One table of a checked join. */
export interface PlannedTable {
  readonly meta: TableMeta;
  readonly kind?: 'inner' | 'left' | undefined;
  readonly on?: SQL | undefined;
  /** The `on` conjuncts equating a column of an earlier table with one of this table. */
  readonly equalities: readonly JoinEquality[];
  /** The `on` conjuncts over this table alone. */
  readonly ownOn: readonly SQL[];
  /** The `on` conjuncts that are neither (over earlier tables, or mixing them otherwise). */
  readonly otherOn: readonly SQL[];
  /** The where's conjuncts over this table alone. */
  readonly ownWhere: readonly SQL[];
  /**
   * A filter over this table alone that every row of it in the result
   * passes: its own where conjuncts (unless left-joined, where a missing
   * row is all NULLs), and its own `on` conjuncts when joined.
   */
  readonly filter?: SQL | undefined;
}

/** @internal An ordering term of a join: a column of table `t`. */
export interface JoinOrderTerm extends OrderTerm {
  readonly t: number;
}

/** @internal A checked join: its tables, the where's conjuncts spanning several tables, the ordering. */
export interface JoinPlan {
  readonly tables: readonly PlannedTable[];
  readonly where?: SQL | undefined;
  /** Where conjuncts that name columns of several tables (or none). */
  readonly crossWhere: readonly SQL[];
  readonly orderBy: readonly JoinOrderTerm[];
}

/**
 * @internal Checks a join before anything is read: every table in the
 * schema and joined once (no self-joins), `on` and `where` drizzle
 * conditions over the joined tables' columns only (checked as filters
 * are), ordering by their columns; and splits the conditions into what
 * each table's reads can take on their own.
 */
export function planJoin(registry: TableRegistry, config: JoinConfig): JoinPlan {
  const metas = [registry.metaOf(config.table), ...config.joins.map((j) => registry.metaOf(j.table))];
  metas.forEach((meta, t) => {
    if (metas.indexOf(meta) !== t) throw new InvalidInputError(`a join of ${meta.name} with itself is not supported (drizzle's alias() tables cannot be read): read the rows, then the related ones by key with inArray()`);
  });
  const clause = `join of ${metas.map((m) => m.name).join(', ')}`;
  const where = checkFilter(metas[0]!, config.where, `where of the ${clause}`, { joined: metas });
  const whereParts = where ? conjunctsOf(where) : [];
  const ownWhere = metas.map((meta) => whereParts.filter((c) => sameSet(tablesOf(c, metas), [metas.indexOf(meta)])));
  const crossWhere = whereParts.filter((c) => tablesOf(c, metas).length !== 1);

  const tables: PlannedTable[] = metas.map((meta, t) => {
    if (t === 0) return { meta, equalities: [], ownOn: [], otherOn: [], ownWhere: ownWhere[0]!, filter: andOf(ownWhere[0]!) };
    const join = config.joins[t - 1]!;
    const on = checkFilter(meta, join.on, `on of ${join.kind}Join(${meta.name})`, { joined: metas.slice(0, t + 1) });
    if (!on) throw new InvalidInputError(`${join.kind}Join(${meta.name}) needs an on condition, such as eq(${metas[0]!.name}.${metas[0]!.primaryKey[0]!.key}, ${meta.name}.<column>)`);
    const equalities: JoinEquality[] = [];
    const ownOn: SQL[] = [];
    const otherOn: SQL[] = [];
    for (const part of conjunctsOf(on)) {
      const equality = equalityOf(part, metas, t);
      if (equality) equalities.push(equality);
      else if (sameSet(tablesOf(part, metas), [t])) ownOn.push(part);
      else otherOn.push(part);
    }
    const own = join.kind === 'left' ? ownOn : [...ownWhere[t]!, ...ownOn];
    return { meta, kind: join.kind, on, equalities, ownOn, otherOn, ownWhere: ownWhere[t]!, filter: andOf(own) };
  });

  const orderBy = config.orderBy.map((term): JoinOrderTerm => {
    const t = metas.findIndex((meta) => meta.table === orderedTable(term));
    if (t < 0) throw new InvalidInputError(`orderBy of the ${clause}: use columns of the joined tables, asc(column) or desc(column)`);
    return { ...parseOrderBy(metas[t]!, [term])[0]!, t };
  });
  return { tables, where, crossWhere, orderBy };
}

/**
 * @internal Whether every joined table lives with the first: each join
 * equates its whole shard key, column by column, with the shard key of a
 * table before it (stored as the same type, so equal values hash alike),
 * and both are key types. Then each shard can join its own rows.
 */
export function isColocated(plan: JoinPlan): boolean {
  return plan.tables.every((table, t) => {
    if (t === 0) return true;
    const key = table.meta.shardKey;
    if (!areKeyColumns(key)) return false;
    return plan.tables.slice(0, t).some((earlier, s) =>
      earlier.meta.shardKey.length === key.length &&
      key.every((column, i) =>
        table.equalities.some((e) => e.column === column && e.earlier.t === s && e.earlier.column === earlier.meta.shardKey[i] && storageType(column.sqlType) === storageType(e.earlier.column.sqlType)),
      ),
    );
  });
}

/** @internal The top-level conjuncts of a condition (nested and()s flattened). */
export function conjunctsOf(condition: SQL): SQL[] {
  const operands = junctionOperands(condition, ' and ');
  return operands ? operands.flatMap(conjunctsOf) : [condition];
}

/** @internal The indexes (in `metas`) of the tables whose columns a condition names, ascending. */
export function tablesOf(condition: unknown, metas: readonly TableMeta[]): number[] {
  const found = new Set<number>();
  const visit = (chunk: unknown): void => {
    if (Array.isArray(chunk)) chunk.forEach(visit);
    else if (isEntity(chunk, SQL)) chunk.queryChunks.forEach(visit);
    else if (isEntity(chunk, Column)) found.add(metas.findIndex((m) => m.table === (chunk as PgColumn).table));
  };
  visit(condition);
  return [...found].sort((a, b) => a - b);
}

/** @internal The conjuncts and-ed, or undefined for none. */
export function andOf(conditions: readonly SQL[]): SQL | undefined {
  return conditions.length === 0 ? undefined : conditions.length === 1 ? conditions[0] : and(...conditions);
}

/** `earlier.column = joined.column` (either way round), a column of table `t` and one of a table before it; else undefined. */
function equalityOf(condition: SQL, metas: readonly TableMeta[], t: number): JoinEquality | undefined {
  const chunks = meaningfulChunks(condition);
  if (chunks.length !== 3 || chunkText(chunks[1])?.trim() !== '=' || !isEntity(chunks[0], Column) || !isEntity(chunks[2], Column)) return undefined;
  const sides = [chunks[0], chunks[2]].map((column) => {
    const s = metas.findIndex((m) => m.table === (column as PgColumn).table);
    return { t: s, column: metas[s]!.columns.find((c) => c.column === column)! };
  });
  const mine = sides.find((side) => side.t === t);
  const earlier = sides.find((side) => side.t < t);
  return mine && earlier ? { earlier, column: mine.column } : undefined;
}

function orderedTable(term: unknown): unknown {
  if (isEntity(term, Column)) return (term as PgColumn).table;
  if (isEntity(term, SQL)) {
    const column = meaningfulChunks(term).find((c) => isEntity(c, Column));
    return column ? (column as PgColumn).table : undefined;
  }
  return undefined;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** @internal The name drizzle keys a table's row by in a joined result. */
export function resultName(table: Table): string {
  return getTableName(table);
}
