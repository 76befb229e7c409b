import { and, Column, eq, inArray, or, SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { KeyValues, Row } from '../txn/engine-contract.js';
import { computeNewImages, splitSetValues } from './computed-update.js';
import { describeValue } from './column-value.js';
import { isEntity } from './drizzle-entity.js';
import { bindExcluded, mentionsExcluded } from './excluded-values.js';
import { checkFilter } from './filter-validation.js';
import type { QueryContext, Session } from './query-context.js';
import { readKeys } from './read-rows.js';
import { keyId, keyOf } from './row-key.js';
import { checkRowSize } from './row-validation.js';

/** @internal What an insert does with a row whose primary key exists: `onConflictDoNothing()` or `onConflictDoUpdate()`. */
export type ConflictAction = { readonly kind: 'nothing' } | { readonly kind: 'update'; readonly set: unknown; readonly where?: SQL | undefined };

/** drizzle's `onConflictDoNothing` / `onConflictDoUpdate` configuration, as far as it is accepted. */
export interface ConflictConfig {
  readonly target?: unknown;
  readonly where?: unknown;
  readonly targetWhere?: unknown;
  readonly setWhere?: unknown;
  readonly set?: unknown;
}

/**
 * @internal Checks an `on conflict` clause: the target, when given, must be
 * the primary key (the only unique constraint percolator keeps);
 * `targetWhere` (partial unique indexes) is refused; `where` and `setWhere`
 * filter the rows to update (Postgres's `do update ... where`).
 */
export function conflictAction(meta: TableMeta, kind: 'nothing' | 'update', config: ConflictConfig | undefined, clause: string): ConflictAction {
  if (config !== undefined && (typeof config !== 'object' || config === null)) throw new InvalidInputError(`${clause}: expected a configuration object, got ${describeValue(config)}`);
  const pk = meta.primaryKey.map((c) => `${meta.name}.${c.key}`).join(', ');
  const target = config?.target;
  if (target === undefined && kind === 'update') throw new InvalidInputError(`${clause}: target is required; use the primary key: target: ${targets(meta)}`);
  if (target !== undefined) {
    const columns = Array.isArray(target) ? target : [target];
    const named = columns.map((c) => (isEntity(c, Column) ? meta.columns.find((m) => m.column === (c as PgColumn)) : undefined));
    const isPk = named.every((c) => c !== undefined) && named.length === meta.primaryKey.length && meta.primaryKey.every((c) => named.includes(c));
    if (!isPk) {
      throw new InvalidInputError(
        `${clause}: only the primary key (${pk}) can be a conflict target: write target: ${targets(meta)}; conflicts on other columns or unique indexes are not supported`,
      );
    }
  }
  if (config?.targetWhere !== undefined || (kind === 'nothing' && config?.where !== undefined)) {
    throw new InvalidInputError(`${clause}: a target where (partial unique index) is not supported; the conflict target is the primary key (${pk})`);
  }
  if (kind === 'nothing') return { kind };
  if (config?.where !== undefined && config.setWhere !== undefined) throw new InvalidInputError(`${clause}: give where or setWhere, not both`);
  const where = (config?.setWhere ?? config?.where) as SQL | undefined;
  if (where !== undefined && !isEntity(where, SQL)) throw new InvalidInputError(`${clause}: where must be a drizzle condition, got ${describeValue(where)}`);
  if (typeof config?.set !== 'object' || config.set === null) throw new InvalidInputError(`${clause}: set is required: the columns to change on conflict`);
  return { kind, set: config.set, where };
}

function targets(meta: TableMeta): string {
  const columns = meta.primaryKey.map((c) => `${meta.name}.${c.key}`);
  return columns.length === 1 ? columns[0]! : `[${columns.join(', ')}]`;
}

/**
 * @internal An upsert in a session: the keys are read at the snapshot
 * (usually answered by the transaction's view), rows with absent keys are
 * buffered as inserts, rows with existing keys are skipped (do nothing) or
 * updated (do update: `set` over the existing row, `excluded.<column>` the
 * proposed row; `where` decides which are updated), in the same
 * transaction. Two concurrent upserts of one key both write it, so one of
 * them fails at prewrite with a write conflict and is retried, reading the
 * other's row: none is lost. Returns the rows inserted or updated, in the
 * order of `rows` (those skipped are left out, as Postgres does).
 */
export async function upsertRows(context: QueryContext, session: Session, meta: TableMeta, rows: readonly Row[], action: ConflictAction, clause: string): Promise<Row[]> {
  const existing = new Map<unknown, Row>();
  for (const row of await readKeys(session, meta, distinctKeys(meta, rows))) existing.set(keyId(keyOf(meta, row)), row);
  const inserted: Row[] = [];
  const conflicting: Row[] = [];
  const taken = new Set<unknown>(); // keys inserted or updated by this statement
  for (const row of rows) {
    const id = keyId(keyOf(meta, row));
    if (existing.has(id) || taken.has(id)) {
      // As in Postgres: do nothing skips the row; do update updates an existing row once, and refuses a second row of one key.
      if (action.kind === 'nothing') continue;
      if (taken.has(id)) throw new InvalidInputError(`${clause}: ON CONFLICT DO UPDATE cannot affect a row twice: two rows of values() have the key ${JSON.stringify(keyOf(meta, row))}`);
      conflicting.push(row);
    } else {
      inserted.push(row);
    }
    taken.add(id);
  }
  const updated = action.kind === 'update' ? await updateImages(context, session, meta, conflicting, existing, action, clause) : new Map<unknown, Row>();
  const images = [...inserted, ...updated.values()];
  for (const image of images) checkRowSize(meta, image, clause);
  if (images.length > 0) {
    // Each row's image as read (absent for inserts): the engine deletes its old index entries without reading it again.
    session.engineTx.put(meta, images, { previous: images.map((image) => existing.get(keyId(keyOf(meta, image))) ?? null) });
    session.rowCache.remember(meta, images);
  }
  const insertedRows = new Set(inserted);
  const result: Row[] = [];
  for (const row of rows) {
    if (insertedRows.has(row)) result.push(row);
    else if (conflicting.includes(row) && updated.has(keyId(keyOf(meta, row)))) result.push(updated.get(keyId(keyOf(meta, row)))!);
  }
  return result;
}

/** New images of the existing rows the conflicting rows update, by key. */
async function updateImages(
  context: QueryContext,
  session: Session,
  meta: TableMeta,
  conflicting: readonly Row[],
  existing: ReadonlyMap<unknown, Row>,
  action: ConflictAction & { kind: 'update' },
  clause: string,
): Promise<Map<unknown, Row>> {
  const images = new Map<unknown, Row>();
  if (conflicting.length === 0) return images;
  const perRow = mentionsExcluded(action.where) || Object.values(action.set as object).some(mentionsExcluded);
  const groups = perRow ? conflicting.map((row) => [row]) : [conflicting];
  for (const group of groups) {
    const proposed = group[0]!;
    const bind = (value: unknown): unknown => (perRow && isEntity(value, SQL) ? bindExcluded(meta, value, proposed, clause) : value);
    const set = Object.fromEntries(Object.entries(action.set as object).map(([key, value]) => [key, bind(value)]));
    const update = splitSetValues(meta, set, clause);
    const userWhere = action.where && checkFilter(meta, bind(action.where), `${clause} where`);
    let rows: Row[];
    if (update.expressions.length === 0 && !userWhere) {
      rows = group.map((row) => ({ ...existing.get(keyId(keyOf(meta, row)))!, ...update.values }));
    } else {
      // Expressions and the where run on the shards against the existing rows, as an update does.
      rows = await computeNewImages(context, session, meta, and(keysFilter(meta, group), userWhere), update, clause);
    }
    for (const image of rows) {
      const id = keyId(keyOf(meta, image));
      if (!existing.has(id)) throw new InvalidInputError(`${clause}: set cannot change the primary key`);
      images.set(id, image);
    }
  }
  return images;
}

function distinctKeys(meta: TableMeta, rows: readonly Row[]): KeyValues[] {
  const keys = new Map<unknown, KeyValues>();
  for (const row of rows) keys.set(keyId(keyOf(meta, row)), keyOf(meta, row));
  return [...keys.values()];
}

/** A filter matching exactly the keys of `rows` (which the key-filter analysis reads by key, and pins to their shards). */
function keysFilter(meta: TableMeta, rows: readonly Row[]): SQL {
  const pk = meta.primaryKey;
  if (pk.length === 1) return inArray(pk[0]!.column, rows.map((row) => row[pk[0]!.key]));
  return or(...rows.map((row) => and(...pk.map((c) => eq(c.column, row[c.key])))))!;
}
