import { Column, type GetColumnData, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { JoinedRow, Row } from '../txn/engine-contract.js';
import { isEntity } from './drizzle-entity.js';
import { planJoin, resultName, type JoinConfig, type JoinPlan } from './join-plan.js';
import { readJoin } from './join-read.js';
import type { QueryContext } from './query-context.js';
import { checkCount } from './query-window.js';
import { ThenableQuery } from './thenable-query.js';
import type { SelectFields } from './types.js';

/** The tables of a join by name (as drizzle keys a joined row), and the names of the left-joined ones. */
export type JoinedTables = Record<string, PgTable>;

/**
 * A joined row as drizzle types it: without fields, one entry per table
 * (`null` for a left-joined table without a match); with fields, each
 * column's type, nullable when its table is left-joined.
 */
export type JoinResult<TTables extends JoinedTables, TNullable extends string, TFields extends SelectFields | undefined> = TFields extends SelectFields
  ? {
      [K in keyof TFields]: TFields[K] extends PgColumn
        ? TFields[K]['_']['tableName'] extends TNullable
          ? GetColumnData<TFields[K]> | null
          : GetColumnData<TFields[K]>
        : never;
    } & {}
  : { [K in keyof TTables]: K extends TNullable ? TTables[K]['$inferSelect'] | null : TTables[K]['$inferSelect'] } & {};

/** A join condition: drizzle SQL, or a function of the joined tables by name giving it (as drizzle accepts). */
export type JoinOn<TTables extends JoinedTables> = SQL | undefined | ((tables: TTables) => SQL | undefined);

/** @internal */
export interface JoinQueryConfig extends JoinConfig {
  readonly fields: SelectFields | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
}

/**
 * A select over joined tables (`innerJoin`, `leftJoin`), at the snapshot
 * of its transaction with the transaction's own writes. Tables that share
 * the shard key, joined on it, are joined by each shard in one statement;
 * others are joined by the client, reading the joined table's rows by key
 * or index in batches (docs/CLIENT.md, "Joins"). Immutable.
 */
export class JoinQuery<TTables extends JoinedTables, TNullable extends string, TFields extends SelectFields | undefined> extends ThenableQuery<JoinResult<TTables, TNullable, TFields>[]> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly config: JoinQueryConfig,
  ) {
    super();
  }

  /**
   * @example
   * await db.select().from(users).innerJoin(posts, eq(users.id, posts.authorId)).where(gt(posts.likes, 10));
   */
  innerJoin<TJoined extends PgTable>(table: TJoined, on: JoinOn<TTables & Record<TJoined['_']['name'], TJoined>>): JoinQuery<TTables & Record<TJoined['_']['name'], TJoined>, TNullable, TFields> {
    return new JoinQuery(this.context, { ...this.config, joins: [...this.config.joins, { kind: 'inner', table, on: this.condition(table, on) }] });
  }

  /**
   * Rows of the tables before it without a match get `null` for this table (its columns null in a partial selection).
   * @example
   * await db.select({ name: users.name, title: posts.title }).from(users).leftJoin(posts, eq(users.id, posts.authorId));
   */
  leftJoin<TJoined extends PgTable>(table: TJoined, on: JoinOn<TTables & Record<TJoined['_']['name'], TJoined>>): JoinQuery<TTables & Record<TJoined['_']['name'], TJoined>, TNullable | TJoined['_']['name'], TFields> {
    return new JoinQuery(this.context, { ...this.config, joins: [...this.config.joins, { kind: 'left', table, on: this.condition(table, on) }] });
  }

  /** right and full joins are not supported: InvalidInputError (swap the tables and use leftJoin). */
  rightJoin(_table: unknown, _on?: unknown): never {
    throw new InvalidInputError('rightJoin() is not supported: swap the tables and use leftJoin()');
  }

  /** right and full joins are not supported: InvalidInputError. */
  fullJoin(_table: unknown, _on?: unknown): never {
    throw new InvalidInputError('fullJoin() is not supported: read both sides with leftJoin() from each, or by key with inArray() in one db.transaction()');
  }

  /** A filter over the joined rows: columns of any of the tables. */
  where(condition: SQL | undefined): JoinQuery<TTables, TNullable, TFields> {
    return new JoinQuery(this.context, { ...this.config, where: condition });
  }

  /** Columns of any of the tables, bare, asc() or desc(); a left join's missing rows have NULLs there. */
  orderBy(...columns: (PgColumn | SQL)[]): JoinQuery<TTables, TNullable, TFields> {
    return new JoinQuery(this.context, { ...this.config, orderBy: columns });
  }

  limit(count: number): JoinQuery<TTables, TNullable, TFields> {
    return new JoinQuery(this.context, { ...this.config, limit: count });
  }

  offset(count: number): JoinQuery<TTables, TNullable, TFields> {
    return new JoinQuery(this.context, { ...this.config, offset: count });
  }

  /** Locking reads of joins are not supported: InvalidInputError. */
  for(_strength: unknown, _options?: unknown): never {
    throw new InvalidInputError('for(update) on a join is not supported: lock the rows of each table with its own select ... for(update)');
  }

  /** Aggregates over joins are not supported: InvalidInputError. */
  groupBy(..._terms: unknown[]): never {
    throw new InvalidInputError('groupBy() on a join is not supported: aggregate each table on its own, or group the joined rows in JS');
  }

  /** @internal */
  protected override async execute(): Promise<JoinResult<TTables, TNullable, TFields>[]> {
    const plan = planJoin(this.context.tables, this.config);
    const fields = this.config.fields && resolveJoinFields(plan, this.config.fields);
    const window = { offset: checkCount(this.config.offset, 'offset') ?? 0, limit: checkCount(this.config.limit, 'limit') };
    const rows = await this.context.run('read', (session) => readJoin(this.context, session, plan, window));
    return rows.map((row) => shapeRow(plan, fields, row)) as JoinResult<TTables, TNullable, TFields>[];
  }

  private condition(table: PgTable, on: unknown): unknown {
    if (typeof on !== 'function') return on;
    const byName: Record<string, PgTable> = {};
    for (const t of [this.config.table, ...this.config.joins.map((j) => j.table), table]) byName[resultName(t)] = t;
    return (on as (tables: Record<string, PgTable>) => unknown)(byName);
  }
}

/** A selected field: result key, the table it comes from, the column's key. */
type JoinField = readonly [resultKey: string, t: number, columnKey: string];

function resolveJoinFields(plan: JoinPlan, fields: SelectFields): JoinField[] {
  const names = plan.tables.map((t) => t.meta.name).join(', ');
  return Object.entries(fields).map(([resultKey, field]) => {
    const t = isEntity(field, Column) ? plan.tables.findIndex((table) => table.meta.table === (field as PgColumn).table) : -1;
    if (t < 0) throw new InvalidInputError(`select of the join of ${names}: field ${JSON.stringify(resultKey)} is not a column of a joined table; only columns can be selected from a join`);
    return [resultKey, t, plan.tables[t]!.meta.columns.find((c) => c.column === field)!.key] as const;
  });
}

function shapeRow(plan: JoinPlan, fields: JoinField[] | undefined, row: JoinedRow): Row {
  const out: Row = {};
  if (!fields) {
    plan.tables.forEach((table, t) => (out[resultName(table.meta.table)] = row[t] ?? null));
    return out;
  }
  for (const [resultKey, t, columnKey] of fields) out[resultKey] = row[t]?.[columnKey] ?? null;
  return out;
}
