import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { Row } from '../txn/engine-contract.js';
import { rowComparator } from './merge-ordered.js';
import { parseOrderBy, type OrderTerm } from './order-by.js';
import { checkFilter } from './filter-validation.js';
import { project, resolveProjection } from './projection.js';
import type { QueryContext } from './query-context.js';
import { readRows } from './read-rows.js';
import type { SelectFields } from './types.js';

/** @internal A `selectDistinctOn(on, fields).from(table)` with its clauses. */
export interface DistinctOnSelect {
  readonly table: PgTable;
  readonly fields: SelectFields | undefined;
  readonly distinctOn: readonly unknown[];
  readonly where?: SQL | undefined;
  readonly orderBy: readonly unknown[];
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
}

/**
 * @internal Postgres's `select distinct on (...)`: the first row, by
 * orderBy, of each distinct value of the `on` columns. Each shard returns
 * its first row per value (over its rows merged with the transaction's
 * buffered writes), ordered; merged across shards, each value's rows are
 * adjacent and the first of them is its first row overall; offset and
 * limit apply afterwards.
 */
export async function runDistinctOnSelect(context: QueryContext, query: DistinctOnSelect): Promise<Row[]> {
  const meta = context.tables.metaOf(query.table);
  const clause = `selectDistinctOn on ${meta.name}`;
  if (!Array.isArray(query.distinctOn) || query.distinctOn.length === 0) throw new InvalidInputError(`${clause}: give a non-empty array of columns`);
  const on = parseOrderBy(meta, query.distinctOn).map((term) => {
    if (term.direction !== 'asc' || !isBareColumn(term, query.distinctOn)) throw new InvalidInputError(`${clause}: distinct on columns of ${meta.name}, not asc()/desc()`);
    return term;
  });
  const given = parseOrderBy(meta, query.orderBy);
  const orderBy = leadingOn(on, given, clause);
  const projection = query.fields ? resolveProjection(meta, query.fields, `${clause}`) : undefined;
  const where = checkFilter(meta, query.where, 'where');
  // Each shard keeps its first row per value (distinct on over the snapshot view, own writes included); the merge keeps the first of those.
  const distinctOn = orderBy.slice(0, new Set(on.map((term) => term.column.key)).size);
  const rows = await context.run('read', (session) => readRows(context, session, { meta, where, orderBy, distinctOn }));
  const sameValue = rowComparator(on.map((term) => ({ column: term.column, direction: 'asc' })));
  const firsts = rows.filter((row, i) => i === 0 || sameValue(rows[i - 1]!, row) !== 0);
  const offset = query.offset ?? 0;
  return project(firsts.slice(offset, query.limit === undefined ? undefined : offset + query.limit), projection);
}

function isBareColumn(term: OrderTerm, terms: readonly unknown[]): boolean {
  return terms.some((t) => t === term.column.column);
}

/**
 * The ordering: Postgres requires orderBy to start with the `on` columns (in
 * any order and direction); without orderBy, the `on` columns ascending
 * (Postgres then returns any row of each value; this returns one).
 */
function leadingOn(on: readonly OrderTerm[], orderBy: readonly OrderTerm[], clause: string): OrderTerm[] {
  if (orderBy.length === 0) return [...on];
  const onKeys = new Set(on.map((term) => term.column.key));
  const leading = orderBy.slice(0, onKeys.size);
  if (leading.length < onKeys.size || leading.some((term) => !onKeys.has(term.column.key)) || new Set(leading.map((t) => t.column.key)).size !== onKeys.size) {
    throw new InvalidInputError(`${clause}: SELECT DISTINCT ON expressions must match initial ORDER BY expressions (orderBy must start with the distinct on columns)`);
  }
  return [...orderBy];
}
