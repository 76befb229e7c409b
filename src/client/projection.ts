import { Column } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { checkOwnColumn } from './filter-validation.js';
import { isEntity } from './drizzle-entity.js';

/** @internal A partial selection resolved against its table: result key → column key. */
export type Projection = ReadonlyArray<readonly [resultKey: string, columnKey: string]>;

/**
 * @internal Resolves `select({ alias: table.column, ... })` / `returning({...})`
 * fields. Only columns of the queried table: SQL expressions would have to be
 * computed on each shard, which the engine does not offer.
 */
export function resolveProjection(meta: TableMeta, fields: unknown, clause: string): Projection {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields) || Object.keys(fields).length === 0) {
    throw new InvalidInputError(`${clause}: expected an object of columns such as { id: ${meta.name}.${meta.primaryKey[0]!.key} }`);
  }
  return Object.entries(fields).map(([resultKey, field]) => {
    if (!isEntity(field, Column)) throw new InvalidInputError(`${clause}: field ${JSON.stringify(resultKey)} is not a column of ${meta.name}; only columns can be selected`);
    checkOwnColumn(meta, field as PgColumn, clause);
    const column = meta.columns.find((c) => c.column === field)!;
    return [resultKey, column.key] as const;
  });
}

/** @internal Applies a projection (undefined = whole rows). */
export function project(rows: readonly Row[], projection: Projection | undefined): Row[] {
  if (!projection) return rows as Row[];
  return rows.map((row) => {
    const out: Row = {};
    for (const [resultKey, columnKey] of projection) out[resultKey] = row[columnKey];
    return out;
  });
}
