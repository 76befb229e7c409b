import { and, Column, eq, inArray, or, SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { computeNewImages, splitSetValues } from './computed-update.js';
import { describeValue } from './column-value.js';
import { isEntity } from './drizzle-entity.js';
import { bindExcluded, mentionsExcluded } from './excluded-values.js';
import { checkFilter } from './filter-validation.js';
import type { QueryContext, Session } from './query-context.js';
import { matchText, readByValues } from './lookup-read.js';
import { rowKeyId } from './row-key.js';
import { checkRowSize } from './row-validation.js';

/**
 * @internal A constraint an upsert checks rows against: the primary key or
 * a unique index (NULLs never conflict: a row with one has no entry).
 */
export interface Arbiter {
  readonly name: string;
  readonly columns: readonly ColumnMeta[];
  readonly primaryKey: boolean;
}

/** @internal What an insert does with a row that conflicts on an arbiter: `onConflictDoNothing()` or `onConflictDoUpdate()`. */
export type ConflictAction = { readonly kind: 'nothing'; readonly arbiters: readonly Arbiter[] } | { readonly kind: 'update'; readonly arbiters: readonly Arbiter[]; readonly set: unknown; readonly where?: SQL | undefined };

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
 * the primary key or the columns of a unique index (as Postgres infers the
 * arbiter from them); without one, do nothing checks every unique
 * constraint. `targetWhere` (partial unique indexes) is refused; `where`
 * and `setWhere` filter the rows to update (Postgres's `do update ... where`).
 */
export function conflictAction(meta: TableMeta, kind: 'nothing' | 'update', config: ConflictConfig | undefined, clause: string): ConflictAction {
  if (config !== undefined && (typeof config !== 'object' || config === null)) throw new InvalidInputError(`${clause}: expected a configuration object, got ${describeValue(config)}`);
  const all = arbitersOf(meta);
  const target = config?.target;
  if (target === undefined && kind === 'update') throw new InvalidInputError(`${clause}: target is required: ${targets(meta, all)}`);
  let arbiters = all;
  if (target !== undefined) {
    const columns = Array.isArray(target) ? target : [target];
    const named = columns.map((c) => (isEntity(c, Column) ? meta.columns.find((m) => m.column === (c as PgColumn)) : undefined));
    const arbiter = all.find((a) => named.every((c) => c !== undefined) && named.length === a.columns.length && a.columns.every((c) => named.includes(c)));
    if (!arbiter) throw new InvalidInputError(`${clause}: the conflict target must be the columns of the primary key or of a unique index: ${targets(meta, all)}`);
    arbiters = [arbiter];
  }
  if (config?.targetWhere !== undefined || (kind === 'nothing' && config?.where !== undefined)) {
    throw new InvalidInputError(`${clause}: a target where (partial unique index) is not supported; partial indexes are not kept`);
  }
  if (kind === 'nothing') return { kind, arbiters };
  if (config?.where !== undefined && config.setWhere !== undefined) throw new InvalidInputError(`${clause}: give where or setWhere, not both`);
  const where = (config?.setWhere ?? config?.where) as SQL | undefined;
  if (where !== undefined && !isEntity(where, SQL)) throw new InvalidInputError(`${clause}: where must be a drizzle condition, got ${describeValue(where)}`);
  if (typeof config?.set !== 'object' || config.set === null) throw new InvalidInputError(`${clause}: set is required: the columns to change on conflict`);
  return { kind, arbiters, set: config.set, where };
}

function arbitersOf(meta: TableMeta): Arbiter[] {
  return [{ name: `${meta.name}_pkey`, columns: meta.primaryKey, primaryKey: true }, ...meta.indexes.filter((i) => i.unique).map((i) => ({ name: i.name, columns: i.columns, primaryKey: false }))];
}

function targets(meta: TableMeta, arbiters: readonly Arbiter[]): string {
  return arbiters
    .map((a) => {
      const columns = a.columns.map((c) => `${meta.name}.${c.key}`);
      return `target: ${columns.length === 1 ? columns[0] : `[${columns.join(', ')}]`} (${a.name})`;
    })
    .join(' or ');
}

/**
 * @internal An upsert in a session: the rows holding the proposed values of
 * each arbiter are read at the snapshot (by key, or through the unique
 * index; usually answered by the transaction's view), rows that conflict
 * with none are buffered as inserts, the others are skipped (do nothing)
 * or update the row they conflict with (do update: `set` over the existing
 * row, `excluded.<column>` the proposed row; `where` decides which are
 * updated), in the same transaction. Two concurrent upserts of one value
 * both write it (the row, or the unique index's entry), so one of them
 * fails at prewrite with a write conflict and is retried, reading the
 * other's row: none is lost. Returns the rows inserted or updated, in the
 * order of `rows` (those skipped are left out, as Postgres does).
 */
export async function upsertRows(context: QueryContext, session: Session, meta: TableMeta, rows: readonly Row[], action: ConflictAction, clause: string): Promise<Row[]> {
  const found = await Promise.all(action.arbiters.map((a) => readByValues(context, session, meta, a.columns, distinctValues(a, rows), undefined)));
  const textOf = (a: Arbiter, row: Row): string | undefined => {
    const values = a.columns.map((c) => row[c.key]);
    return values.some((v) => v === null || v === undefined) ? undefined : matchText(a.columns, values);
  };
  const inserted: Row[] = [];
  const conflicting: { proposed: Row; existing: Row }[] = [];
  const taken = action.arbiters.map(() => new Set<string>()); // values inserted by this statement
  const updatedKeys = new Set<unknown>(); // rows updated by this statement
  for (const row of rows) {
    const texts = action.arbiters.map((a) => textOf(a, row));
    const existing = action.arbiters.map((_, i) => (texts[i] === undefined ? undefined : found[i]!.get(texts[i]!)?.[0])).find((r) => r !== undefined);
    const ownConflict = texts.some((text, i) => text !== undefined && taken[i]!.has(text));
    if (existing || ownConflict) {
      // As in Postgres: do nothing skips the row; do update updates an existing row once, and refuses to affect a row twice.
      if (action.kind === 'nothing') continue;
      if (ownConflict || updatedKeys.has(rowKeyId(meta, existing!))) {
        throw new InvalidInputError(`${clause}: ON CONFLICT DO UPDATE cannot affect a row twice: two rows of values() conflict on ${action.arbiters[0]!.name}`);
      }
      updatedKeys.add(rowKeyId(meta, existing!));
      conflicting.push({ proposed: row, existing: existing! });
      continue;
    }
    inserted.push(row);
    texts.forEach((text, i) => text !== undefined && taken[i]!.add(text));
  }
  const updated = action.kind === 'update' ? await updateImages(context, session, meta, conflicting, action, clause) : new Map<unknown, Row>();
  for (const image of [...inserted, ...updated.values()]) checkRowSize(meta, image, clause);
  // Rows checked absent by key are put; others (a unique index the arbiter) are inserted, which refuses a taken key as Postgres does.
  if (inserted.length > 0 && !action.arbiters.some((a) => a.primaryKey)) await session.engineTx.insert(meta, inserted);
  const puts = [...(action.arbiters.some((a) => a.primaryKey) ? inserted : []), ...updated.values()];
  if (puts.length > 0) {
    const before = new Map(conflicting.map(({ existing }) => [rowKeyId(meta, existing), existing]));
    // Each row's image as read (absent for inserts): the engine deletes its old index entries without reading it again.
    session.engineTx.put(meta, puts, { previous: puts.map((image) => before.get(rowKeyId(meta, image)) ?? null) });
  }
  session.rowCache.remember(meta, [...inserted, ...updated.values()]);
  const insertedRows = new Set(inserted);
  const updatedOf = new Map(conflicting.map(({ proposed, existing }) => [proposed, updated.get(rowKeyId(meta, existing))]));
  const result: Row[] = [];
  for (const row of rows) {
    if (insertedRows.has(row)) result.push(row);
    else if (updatedOf.get(row)) result.push(updatedOf.get(row)!);
  }
  return result;
}

/** New images of the existing rows the conflicting rows update, by key. */
async function updateImages(
  context: QueryContext,
  session: Session,
  meta: TableMeta,
  conflicting: readonly { proposed: Row; existing: Row }[],
  action: ConflictAction & { kind: 'update' },
  clause: string,
): Promise<Map<unknown, Row>> {
  const images = new Map<unknown, Row>();
  if (conflicting.length === 0) return images;
  const perRow = mentionsExcluded(action.where) || Object.values(action.set as object).some(mentionsExcluded);
  const groups = perRow ? conflicting.map((row) => [row]) : [conflicting];
  for (const group of groups) {
    const proposed = group[0]!.proposed;
    const bind = (value: unknown): unknown => (perRow && isEntity(value, SQL) ? bindExcluded(meta, value, proposed, clause) : value);
    const set = Object.fromEntries(Object.entries(action.set as object).map(([key, value]) => [key, bind(value)]));
    const update = splitSetValues(meta, set, clause);
    const userWhere = action.where && checkFilter(meta, bind(action.where), `${clause} where`);
    let rows: Row[];
    if (update.expressions.length === 0 && !userWhere) {
      rows = group.map(({ existing }) => ({ ...existing, ...update.values }));
    } else {
      // Expressions and the where run on the shards against the existing rows, as an update does.
      rows = await computeNewImages(context, session, meta, and(keysFilter(meta, group.map((c) => c.existing)), userWhere), update, clause);
    }
    const existingKeys = new Set(group.map(({ existing }) => rowKeyId(meta, existing)));
    for (const image of rows) {
      const id = rowKeyId(meta, image);
      if (!existingKeys.has(id)) throw new InvalidInputError(`${clause}: set cannot change the primary key`);
      images.set(id, image);
    }
  }
  return images;
}

/** The distinct non-null value tuples of an arbiter's columns among the rows. */
function distinctValues(arbiter: Arbiter, rows: readonly Row[]): unknown[][] {
  const tuples = new Map<string, unknown[]>();
  for (const row of rows) {
    const values = arbiter.columns.map((c) => row[c.key]);
    if (values.every((v) => v !== null && v !== undefined)) tuples.set(matchText(arbiter.columns, values), values);
  }
  return [...tuples.values()];
}

/** A filter matching exactly the keys of `rows` (which the key-filter analysis reads by key, and pins to their shards). */
function keysFilter(meta: TableMeta, rows: readonly Row[]): SQL {
  const pk = meta.primaryKey;
  if (pk.length === 1) return inArray(pk[0]!.column, rows.map((row) => row[pk[0]!.key]));
  return or(...rows.map((row) => and(...pk.map((c) => eq(c.column, row[c.key])))))!;
}
