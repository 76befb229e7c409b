import type { BuildQueryResult, DBQueryConfig, ExtractTablesWithRelations, KnownKeysOnly, TableRelationalConfig, TablesRelationalConfig } from 'drizzle-orm';
import { InvalidInputError } from '../errors.js';
import type { QueryContext } from './query-context.js';
import { findRows, type FindConfig } from './relational-read.js';
import { ThenableQuery } from './thenable-query.js';

/** `db.query`: one relational query builder per table of the schema, typed as drizzle types them. */
export type RelationalQueries<TSchema> = TSchema extends Record<string, unknown>
  ? { [K in keyof ExtractTablesWithRelations<TSchema>]: RelationalQueryBuilder<ExtractTablesWithRelations<TSchema>, ExtractTablesWithRelations<TSchema>[K]> }
  : never;

/**
 * drizzle's relational queries over `relations()` declared in the schema:
 * `findMany`/`findFirst` with `where`, `columns`, `orderBy`, `limit`,
 * `offset` and nested `with`, at the snapshot of the transaction (or a
 * fresh one). The table's rows are read as a select reads them; each
 * relation's rows are then read for all parents at once, by key, shard
 * key or index (docs/CLIENT.md, "Relational queries").
 */
export class RelationalQueryBuilder<TSchema extends TablesRelationalConfig, TFields extends TableRelationalConfig> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly tsName: string,
  ) {}

  /**
   * @example
   * const withPosts = await db.query.users.findMany({ where: (u, { gt }) => gt(u.id, 10), with: { posts: { orderBy: (p, { desc }) => desc(p.likes), limit: 3 } } });
   */
  findMany<TConfig extends DBQueryConfig<'many', true, TSchema, TFields>>(config?: KnownKeysOnly<TConfig, DBQueryConfig<'many', true, TSchema, TFields>>): RelationalQuery<BuildQueryResult<TSchema, TFields, TConfig>[]> {
    return new RelationalQuery(() => this.context.run('read', (session) => findRows(this.context, session, this.tsName, checkConfig(config))) as Promise<BuildQueryResult<TSchema, TFields, TConfig>[]>);
  }

  /**
   * The first row findMany would return (or undefined).
   * @example
   * const user = await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, 1), with: { posts: true } });
   */
  findFirst<TSelection extends Omit<DBQueryConfig<'many', true, TSchema, TFields>, 'limit'>>(
    config?: KnownKeysOnly<TSelection, Omit<DBQueryConfig<'many', true, TSchema, TFields>, 'limit'>>,
  ): RelationalQuery<BuildQueryResult<TSchema, TFields, TSelection> | undefined> {
    return new RelationalQuery(async () => {
      const rows = await this.context.run('read', (session) => findRows(this.context, session, this.tsName, { ...checkConfig(config), limit: 1 }));
      return rows[0] as BuildQueryResult<TSchema, TFields, TSelection> | undefined;
    });
  }
}

/** An awaitable relational query (each await runs it again). */
export class RelationalQuery<TResult> extends ThenableQuery<TResult> {
  /** @internal */
  constructor(private readonly run: () => Promise<TResult>) {
    super();
  }

  /** @internal */
  protected override execute(): Promise<TResult> {
    return this.run();
  }
}

/** @internal `db.query`: a builder per table of the schema, by its property name. */
export function relationalQueries(context: QueryContext): Record<string, RelationalQueryBuilder<TablesRelationalConfig, TableRelationalConfig>> {
  const builders: Record<string, RelationalQueryBuilder<TablesRelationalConfig, TableRelationalConfig>> = {};
  for (const tsName of Object.keys(context.tables.relational.tables)) builders[tsName] = new RelationalQueryBuilder(context, tsName);
  return builders;
}

function checkConfig(config: unknown): FindConfig {
  if (config === undefined) return {};
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InvalidInputError(`findMany/findFirst take an object such as { where, with, columns, orderBy, limit }, got ${String(config)}`);
  return config as FindConfig;
}
