import { Column, is, SQL, sql } from 'drizzle-orm';
import { PgDialect, type PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { AggregateTerm } from '../txn/engine-contract.js';
import { describeValue } from './column-value.js';
import { isEntity } from './drizzle-entity.js';
import { checkFilter, checkOwnColumn } from './filter-validation.js';
import { chunkText, meaningfulChunks } from './sql-chunks.js';

const dialect = new PgDialect();

/** @internal An aggregate function as drizzle's helpers (count, countDistinct, sum, sumDistinct, avg, avgDistinct, min, max) write it. */
export type AggregateFunction = 'count' | 'sum' | 'avg' | 'min' | 'max';

/** @internal How a value read from a shard becomes the field's JS value (drizzle's decoder of the field). */
export type Decode = (raw: unknown) => unknown;

/** @internal A selected field of an aggregate or distinct select. */
export type FieldPlan =
  | { readonly kind: 'group'; readonly key: string; readonly group: number; readonly decode: Decode }
  | {
      readonly kind: 'aggregate';
      readonly key: string;
      readonly fn: AggregateFunction;
      readonly distinct: boolean;
      /** The outputs of the shards' statement it is combined from. */
      readonly outputs: readonly number[];
      /** The aggregated column, when the argument is a bare column of the table. */
      readonly column: ColumnMeta | undefined;
      readonly decode: Decode;
      /** The rendered aggregate, for recognising it in orderBy(). */
      readonly text: string;
    };

/** @internal A group-by term: a column of the table, or an expression over its columns. */
export interface GroupTerm {
  readonly sql: SQL;
  readonly column: ColumnMeta | undefined;
  /** The rendered text, for recognising the same expression among the fields. */
  readonly text: string;
}

/** @internal The outputs of an aggregate select: group terms first (outputs 0..groups-1), then the aggregates' partial results. */
export interface AggregateOutputs {
  readonly groups: readonly GroupTerm[];
  readonly outputs: (SQL | AggregateTerm)[];
  readonly fields: FieldPlan[];
}

const TEXT_COLUMN_TYPES = new Set(['PgText', 'PgVarchar', 'PgChar']);
const AGGREGATE_OPENING = /^\s*(count|sum|avg|min|max)\s*\(\s*(distinct\s+)?$/i;
const COUNT_STAR = /^\s*count\s*\(\s*\*\s*\)\s*$/i;

/** @internal Whether a select's fields need the aggregate path (any field other than a column). */
export function hasExpressionFields(fields: Record<string, unknown> | undefined): boolean {
  return fields !== undefined && Object.values(fields).some((field) => !isEntity(field, Column));
}

/** @internal Parses group-by terms: columns of the table, or expressions over its columns (checked as filter fragments). */
export function parseGroupBy(meta: TableMeta, terms: readonly unknown[]): GroupTerm[] {
  return terms.map((term) => {
    if (isEntity(term, Column)) {
      checkOwnColumn(meta, term as PgColumn, 'groupBy');
      const column = meta.columns.find((c) => c.column === term)!;
      return { sql: sql`${column.column}`, column, text: renderedText(sql`${column.column}`) };
    }
    if (isEntity(term, SQL)) {
      const checked = checkFilter(meta, term, 'groupBy')!;
      const only = meaningfulChunks(checked);
      const column = only.length === 1 && isEntity(only[0], Column) ? meta.columns.find((c) => c.column === only[0]) : undefined;
      return { sql: checked, column, text: renderedText(checked) };
    }
    throw new InvalidInputError(`groupBy on ${meta.name}: expected columns of ${meta.name} or sql expressions over them, got ${describeValue(term)}`);
  });
}

/**
 * @internal The shards' outputs for the selected fields: each group term
 * once, then per aggregate what the client needs to combine the shards'
 * partial results exactly: count → count; sum → sum; avg → sum and count;
 * min/max → min/max; the distinct variants → the distinct values. A
 * column field must be a group term (as in Postgres).
 */
export function planOutputs(meta: TableMeta, fields: Record<string, unknown>, groups: readonly GroupTerm[], clause: string): AggregateOutputs {
  const outputs: (SQL | AggregateTerm)[] = groups.map((g) => g.sql);
  const plans: FieldPlan[] = Object.entries(fields).map(([key, field]) => {
    const decode = decoderOf(field);
    const node = isEntity(field, SQL.Aliased) ? (field as SQL.Aliased).sql : field;
    if (isEntity(node, Column)) {
      checkOwnColumn(meta, node as PgColumn, clause);
      const group = groups.findIndex((g) => g.column?.column === node);
      if (group < 0) throw new InvalidInputError(`${clause}: field ${JSON.stringify(key)} is column ${meta.name}.${(node as PgColumn).name}, which must appear in groupBy() or be aggregated`);
      return { kind: 'group', key, group, decode };
    }
    if (!isEntity(node, SQL)) throw new InvalidInputError(`${clause}: field ${JSON.stringify(key)} must be a column or an aggregate (count, sum, avg, min, max, countDistinct, ...), got ${describeValue(field)}`);
    const aggregate = recognizeAggregate(meta, node, `${clause} field ${JSON.stringify(key)}`);
    if (!aggregate) {
      const group = groups.findIndex((g) => g.text === renderedText(node));
      if (group >= 0) return { kind: 'group', key, group, decode };
      throw new InvalidInputError(
        `${clause}: field ${JSON.stringify(key)} is neither a group-by term nor one of drizzle's aggregates count(), countDistinct(), sum(), sumDistinct(), avg(), avgDistinct(), min(), max() over a column or expression of ${meta.name}; compute other expressions from the result in JS`,
      );
    }
    const { fn, distinct, argument, column } = aggregate;
    const first = outputs.length;
    if (distinct && fn !== 'min' && fn !== 'max') outputs.push({ aggregate: 'distinct-values', argument });
    else if (fn === 'avg') outputs.push({ aggregate: 'sum', argument }, { aggregate: 'count', argument });
    else outputs.push({ aggregate: fn, argument, codePointOrder: column !== undefined && TEXT_COLUMN_TYPES.has(column.column.columnType) });
    const used = Array.from({ length: outputs.length - first }, (_, i) => first + i);
    return { kind: 'aggregate', key, fn, distinct, outputs: used, column, decode, text: renderedText(node) };
  });
  return { groups, outputs, fields: plans };
}

/** @internal An aggregate call: drizzle's helpers render `fn(` argument `)`, `fn(distinct ` argument `)`, `count(*)`. */
export function recognizeAggregate(
  meta: TableMeta,
  node: SQL,
  clause: string,
): { fn: AggregateFunction; distinct: boolean; argument: SQL | undefined; column: ColumnMeta | undefined } | undefined {
  const chunks = meaningfulChunks(node);
  if (chunks.length === 1 && COUNT_STAR.test(chunkText(chunks[0]) ?? '')) return { fn: 'count', distinct: false, argument: undefined, column: undefined };
  if (chunks.length !== 3 || chunkText(chunks[2])?.trim() !== ')') return undefined;
  const opening = AGGREGATE_OPENING.exec(chunkText(chunks[0]) ?? '');
  if (!opening) return undefined;
  const fn = opening[1]!.toLowerCase() as AggregateFunction;
  const distinct = opening[2] !== undefined;
  const inner = chunks[1];
  if (fn === 'count' && !distinct && isEntity(inner, SQL) && meaningfulChunks(inner).length === 1 && chunkText(meaningfulChunks(inner)[0])?.trim() === '*') {
    return { fn, distinct, argument: undefined, column: undefined };
  }
  if (!isEntity(inner, SQL) && !isEntity(inner, Column)) throw new InvalidInputError(`${clause}: the argument of ${fn}() must be a column of ${meta.name} or an expression over its columns`);
  const argument = checkFilter(meta, sql`${inner}`, clause)!;
  const only = isEntity(inner, Column) ? [inner] : meaningfulChunks(inner as SQL);
  const column = only.length === 1 && isEntity(only[0], Column) ? meta.columns.find((c) => c.column === only[0]) : undefined;
  return { fn, distinct, argument, column };
}

/** @internal drizzle's mapping of a selected field's driver value (applied to non-null values only, as drizzle does). */
export function decoderOf(field: unknown): Decode {
  if (isEntity(field, Column)) return (raw) => (raw === null || raw === undefined ? null : (field as PgColumn).mapFromDriverValue(raw));
  const node = isEntity(field, SQL.Aliased) ? (field as SQL.Aliased).sql : field;
  const decoder = is(node, SQL) ? (node as unknown as { decoder?: { mapFromDriverValue(v: unknown): unknown } }).decoder : undefined;
  return (raw) => (raw === null || raw === undefined ? null : decoder ? decoder.mapFromDriverValue(raw) : raw);
}

/** @internal A drizzle SQL node's rendered text and parameters, as one string: equal for equal expressions. */
export function renderedText(node: SQL): string {
  const { sql: text, params } = dialect.sqlToQuery(node);
  return JSON.stringify([text, params], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
