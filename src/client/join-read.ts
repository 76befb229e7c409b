import { InvalidInputError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { JoinedRow, Row } from '../txn/engine-contract.js';
import { andOf, isColocated, type JoinOrderTerm, type JoinPlan, type PlannedTable } from './join-plan.js';
import { isLookupable, matchText, MAX_JOIN_ROWS, readByValues } from './lookup-read.js';
import { rowComparator } from './merge-ordered.js';
import { orderBySql } from './order-by.js';
import type { QueryContext, Session } from './query-context.js';
import { readRows } from './read-rows.js';
import { pinnedShards } from './shard-pinning.js';

/** @internal How a checked join runs: slice of the ordered joined rows wanted. */
export interface JoinWindow {
  readonly offset: number;
  readonly limit?: number | undefined;
}

/**
 * @internal Reads a checked join in a session: on the shards when the
 * tables live together (isColocated), else as a lookup join from the
 * client. Joined rows come back ordered and sliced.
 */
export async function readJoin(context: QueryContext, session: Session, plan: JoinPlan, window: JoinWindow): Promise<JoinedRow[]> {
  const rows = isColocated(plan) ? await colocatedJoin(context, session, plan, window) : await lookupJoin(context, session, plan, window);
  const ordered = plan.orderBy.length > 0 ? rows.sort(joinedComparator(plan.orderBy)) : rows;
  return ordered.slice(window.offset, window.limit === undefined ? undefined : window.offset + window.limit);
}

/** Every shard joins its own rows in one statement (join-read-statement.ts); the first table's filter may pin the shards. */
async function colocatedJoin(context: QueryContext, session: Session, plan: JoinPlan, window: JoinWindow): Promise<JoinedRow[]> {
  const first = plan.tables[0]!;
  const shards = pinnedShards(first.meta, first.filter, (row) => context.shardOf(first.meta, row));
  if (shards?.length === 0) return [];
  return session.engineTx.join({
    tables: plan.tables.map((table) => ({ table: table.meta, join: table.kind && table.on ? { kind: table.kind, on: table.on } : undefined, filter: table.filter })),
    where: plan.where,
    orderBy: plan.orderBy.length > 0 ? orderBySql(plan.orderBy) : undefined,
    limit: window.limit !== undefined ? window.offset + window.limit : undefined,
    shards,
  });
}

/**
 * The first table's rows matching its own filter, then, table after
 * table, the rows matching the `on` equalities' values, read by key (or
 * pinned shard key, or through an index) in batches, each a read of its
 * own at the session's snapshot (buffered writes, lock resolution and, in
 * serializable mode, the predicates recorded as for any read). Conditions
 * the client cannot evaluate itself are refused before anything is read.
 */
async function lookupJoin(context: QueryContext, session: Session, plan: JoinPlan, window: JoinWindow): Promise<JoinedRow[]> {
  checkLookupJoin(plan);
  const [first, ...joined] = plan.tables;
  // Left joins keep every row of the first table: ordered by its columns alone, its first offset + limit rows are enough.
  const firstOnly = window.limit !== undefined && joined.every((t) => t.kind === 'left') && plan.orderBy.every((term) => term.t === 0);
  const cap = firstOnly ? window.offset + window.limit! : MAX_JOIN_ROWS + 1;
  const rows = await readRows(context, session, { meta: first!.meta, where: first!.filter, orderBy: firstOnly ? plan.orderBy : [], limit: cap });
  checkSize(plan, rows.length, first!.meta);
  let tuples: JoinedRow[] = rows.map((row) => [row]);
  for (const table of joined) {
    tuples = await joinTable(context, session, tuples, table);
    checkSize(plan, tuples.length, table.meta);
  }
  return tuples;
}

/** Joins `table` to the joined rows so far, reading its rows by the values of the earlier columns it is equated with. */
async function joinTable(context: QueryContext, session: Session, tuples: JoinedRow[], table: PlannedTable): Promise<JoinedRow[]> {
  const sides = table.equalities;
  const wanted = new Map<string, unknown[]>();
  for (const tuple of tuples) {
    const values = sides.map((e) => tuple[e.earlier.t]?.[e.earlier.column.key]);
    if (values.some((v) => v === null || v === undefined)) continue;
    wanted.set(matchText(sides.map((e) => e.earlier.column), values), values);
  }
  const own = table.kind === 'left' ? table.ownOn : [...table.ownOn, ...table.ownWhere];
  const found = await readByValues(context, session, table.meta, sides.map((e) => e.column), [...wanted.values()], andOf(own));
  const out: JoinedRow[] = [];
  for (const tuple of tuples) {
    const values = sides.map((e) => tuple[e.earlier.t]?.[e.earlier.column.key]);
    const matches = values.some((v) => v === null || v === undefined) ? undefined : found.get(matchText(sides.map((e) => e.earlier.column), values));
    if (matches) for (const row of matches) out.push([...tuple, row]);
    else if (table.kind === 'left') out.push([...tuple, null]);
  }
  return out;
}

/**
 * What a lookup join can do without evaluating SQL on the client: each
 * joined table's `on` is equalities with earlier tables' columns (plus
 * conditions over the joined table alone), its equated columns are found
 * by key, pinned shard key or an index, and the where's conditions each
 * name one table (never a left-joined one, whose missing rows are NULLs).
 */
function checkLookupJoin(plan: JoinPlan): void {
  const names = plan.tables.map((t) => t.meta.name).join(', ');
  const instead = `or give the tables one shard key (shardKeys) and join on it, so that each shard joins its own rows`;
  if (plan.crossWhere.length > 0) {
    throw new InvalidInputError(`join of ${names}: a where condition naming columns of several tables needs the tables on one shard; put equalities in the on condition, filter the result in JS, ${instead}`);
  }
  for (const table of plan.tables.slice(1)) {
    const name = table.meta.name;
    if (table.equalities.length === 0 || table.otherOn.length > 0) {
      throw new InvalidInputError(`${table.kind}Join(${name}): the on condition must equate columns of ${name} with columns of the tables before it (eq(a.x, ${name}.y), in and()), plus conditions over ${name} alone; ${instead}`);
    }
    if (table.kind === 'left' && table.ownWhere.length > 0) {
      throw new InvalidInputError(`leftJoin(${name}): a where condition on the left-joined table ${name} is not supported across shards (its missing rows are NULLs); move it into the on condition, filter the result in JS, ${instead}`);
    }
    const columns = table.equalities.map((e) => e.column);
    if (!isLookupable(table.meta, columns)) {
      throw new InvalidInputError(
        `${table.kind}Join(${name}) on ${columns.map((c) => `${name}.${c.key}`).join(', ')}: these columns are neither ${name}'s shard key nor the leading columns of an index of ${name}, so every shard would be scanned for each batch; declare an index on them, ${instead}`,
      );
    }
  }
}

function checkSize(plan: JoinPlan, rows: number, meta: TableMeta): void {
  if (rows <= MAX_JOIN_ROWS) return;
  throw new InvalidInputError(
    `join of ${plan.tables.map((t) => t.meta.name).join(', ')}: more than ${MAX_JOIN_ROWS} rows after reading ${meta.name} (MAX_JOIN_ROWS; a join of tables on different shards is done by the client): filter the first table more, or give the tables one shard key so that the shards join`,
  );
}

/** Compares joined rows by terms naming columns of any of their tables (a missing row's columns are NULL). */
function joinedComparator(terms: readonly JoinOrderTerm[]): (a: JoinedRow, b: JoinedRow) => number {
  const flat = terms.map((term) => ({ ...term, column: { ...term.column, key: `${term.t}\u0000${term.column.key}` } }));
  const compare = rowComparator(flat);
  const flatten = (row: JoinedRow): Row => {
    const out: Row = {};
    for (const term of terms) out[`${term.t}\u0000${term.column.key}`] = row[term.t]?.[term.column.key] ?? null;
    return out;
  };
  return (a, b) => compare(flatten(a), flatten(b));
}
