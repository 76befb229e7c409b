import { Column, SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { ProjectedRow, RowLockRequest } from '../txn/engine-contract.js';
import { combineGroups, compareRaw, finishGroup, MAX_DISTINCT_VALUES } from './aggregate-combine.js';
import { parseGroupBy, planOutputs, renderedText, type AggregateOutputs, type FieldPlan, type GroupTerm } from './aggregate-plan.js';
import { isEntity } from './drizzle-entity.js';
import { checkFilter } from './filter-validation.js';
import { analyzeKeyFilter } from './key-filter.js';
import { rowComparator } from './merge-ordered.js';
import type { QueryContext } from './query-context.js';
import { pinnedShards } from './shard-pinning.js';
import { chunkText, meaningfulChunks } from './sql-chunks.js';

/** @internal What a select with aggregates, groupBy or distinct was built with. */
export interface AggregateSelectConfig {
  readonly table: PgTable;
  readonly fields: Record<string, unknown> | undefined;
  readonly where?: SQL | undefined;
  readonly groupBy: readonly unknown[];
  readonly having?: SQL | undefined;
  readonly orderBy: readonly unknown[];
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
  readonly distinct: boolean;
  readonly lock?: RowLockRequest | undefined;
}

/**
 * @internal Runs an aggregate (or grouped, or distinct) select: each shard
 * computes its groups' partial aggregates over the rows visible at the
 * snapshot (buffered writes included, pending locks resolved as for a
 * scan), in one statement; the client combines the shards' groups
 * (aggregate-combine.ts), then orders and slices the result. `having` runs
 * on the shards when every group lives on one shard (the read is pinned to
 * one shard, or the groups include the whole shard key); otherwise it is
 * refused before anything is read.
 */
export async function runAggregateSelect(context: QueryContext, config: AggregateSelectConfig): Promise<Record<string, unknown>[]> {
  const meta = context.tables.metaOf(config.table);
  const clause = `select from ${meta.name}`;
  if (config.lock) throw new InvalidInputError(`${clause}: for('update') cannot be combined with aggregates, groupBy or selectDistinct; lock the rows with a plain select first`);
  const where = checkFilter(meta, config.where, 'where');
  const fields = config.fields ?? Object.fromEntries(meta.columns.map((c) => [c.key, c.column]));
  const aggregated = config.groupBy.length > 0 || Object.values(fields).some((f) => !isEntity(f, Column) && !isGroupExpression(f));
  // selectDistinct of columns or expressions: their distinct values are the groups of a group by over them.
  const groups = parseGroupBy(meta, aggregated || !config.distinct ? config.groupBy : Object.values(fields));
  const plan = planOutputs(meta, fields, groups, clause);
  const shards = pinnedShards(meta, where, (row) => context.shardOf(meta, row), where && analyzeKeyFilter(meta, where));
  let having: SQL | undefined;
  if (config.having !== undefined) {
    if (!groupsOnOneShard(meta, groups, shards)) {
      const shardKey = meta.shardKey.map((c) => `${meta.name}.${c.key}`).join(', ');
      throw new InvalidInputError(
        `${clause}: having() over groups that span shards is not supported; include the shard key (${shardKey}) in groupBy(), pin the filter to one shard, or filter the grouped result in JS`,
      );
    }
    having = checkFilter(meta, config.having, 'having', { aggregates: true });
  }
  const order = orderOf(plan, config.orderBy, clause);
  const rows: ProjectedRow[] =
    shards?.length === 0
      ? []
      : await context.run('read', (session) => session.engineTx.project(meta, { where, select: plan.outputs, groupBy: groups.map((g) => g.sql), having, shards }));
  const budget = { left: MAX_DISTINCT_VALUES };
  let result = combineGroups(plan, rows).map((group) => finishGroup(plan, group, budget));
  if (config.distinct && aggregated) result = distinctRows(result);
  if (order) result.sort(order);
  const offset = config.offset ?? 0;
  return result.slice(offset, config.limit === undefined ? undefined : offset + config.limit);
}

/** Every group's rows live on one shard: a single shard is read, or the groups include every shard-key column. */
function groupsOnOneShard(meta: TableMeta, groups: readonly GroupTerm[], shards: readonly number[] | undefined): boolean {
  if (shards !== undefined && shards.length <= 1) return true;
  return meta.shardKey.every((key) => groups.some((g) => g.column === key));
}

/** A non-aggregate SQL field (selectDistinct of an expression): not one of drizzle's aggregates. */
function isGroupExpression(field: unknown): boolean {
  const node = isEntity(field, SQL.Aliased) ? (field as SQL.Aliased).sql : field;
  if (!isEntity(node, SQL)) return false;
  const first = chunkText(meaningfulChunks(node)[0]) ?? '';
  return !/^\s*(count|sum|avg|min|max)\s*\(/i.test(first);
}

function distinctRows(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const seen = new Set<string>();
  return rows.filter((row) => {
    const id = JSON.stringify(Object.values(row), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * The order of the result rows, applied on the client after combining:
 * terms name selected fields (a selected column, or an aggregate written
 * as in the select: `desc(count())`), bare or in asc()/desc(). Nulls last
 * ascending, first descending, as in Postgres.
 */
function orderOf(plan: AggregateOutputs, terms: readonly unknown[], clause: string): ((a: Record<string, unknown>, b: Record<string, unknown>) => number) | undefined {
  if (terms.length === 0) return undefined;
  const compares = terms.map((term) => {
    let target = term;
    let direction: 'asc' | 'desc' = 'asc';
    if (isEntity(term, SQL)) {
      const chunks = meaningfulChunks(term);
      const word = chunkText(chunks[1])?.trim();
      if (chunks.length === 2 && (word === 'asc' || word === 'desc')) [target, direction] = [chunks[0], word];
    }
    const field = fieldFor(plan, target);
    if (!field) throw new InvalidInputError(`${clause}: orderBy() of an aggregate or distinct select takes its selected fields (a selected column, or an aggregate as selected, in asc()/desc()); sort other expressions in JS`);
    const byColumn = field.kind === 'group' ? plan.groups[field.group]!.column : undefined;
    const compareValues = byColumn ? rowComparator([{ column: byColumn, direction: 'asc' }]) : undefined;
    const compare = (a: unknown, b: unknown): number => {
      const aNull = a === null || a === undefined;
      const bNull = b === null || b === undefined;
      if (aNull || bNull) return aNull === bNull ? 0 : aNull ? 1 : -1;
      return compareValues ? compareValues({ [byColumn!.key]: a }, { [byColumn!.key]: b }) : compareRaw(a, b);
    };
    return (a: Record<string, unknown>, b: Record<string, unknown>) => (direction === 'asc' ? 1 : -1) * compare(a[field.key], b[field.key]);
  });
  return (a, b) => {
    for (const compare of compares) {
      const order = compare(a, b);
      if (order !== 0) return order;
    }
    return 0;
  };
}

/** The selected field an orderBy term names: the same column, or an SQL field rendering to the same text. */
function fieldFor(plan: AggregateOutputs, target: unknown): FieldPlan | undefined {
  if (isEntity(target, Column)) return plan.fields.find((f) => f.kind === 'group' && plan.groups[f.group]!.column?.column === target);
  if (!isEntity(target, SQL)) return undefined;
  const text = renderedText(target);
  return plan.fields.find((f) => (f.kind === 'group' ? plan.groups[f.group]!.text === text : f.text === text));
}
