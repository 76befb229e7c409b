import { lockExpiredSql } from './lock-ttl.js';
import { ident, storageType } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';
import type { KeyTexts } from './key-text.js';
import type { ColumnMeta } from '../schema/table-meta.js';

/**
 * The rows every read statement returns, in one shape: data rows ('r'),
 * the locks a correct read must not skip ('l', their lock columns set),
 * and a row ('g') when the read is older than the shard's GC safe point.
 */

/** The lock columns every read row carries (null on data rows), in order: name and SQL type. */
export const LOCK_INFO_COLUMNS = [
  ['__lock_key', 'text[]'],
  ['__lock_start', 'text'],
  ['__primary_table', 'text'],
  ['__primary_key', 'text[]'],
  ['__expired', 'boolean'],
] as const;

/** Values of LOCK_INFO_COLUMNS (above) for the lock row aliased `l`: its key, owner, primary and expiry. */
export function lockInfoSql(storage: TableSql, l: string): string {
  return `array[${storage.pk.map((c) => `${l}.${ident(c.name)}::text`).join(', ')}] as __lock_key, ${l}.start_ts::text as __lock_start,
  ${l}.primary_table as __primary_table, ${l}.primary_key as __primary_key,
  (${lockExpiredSql(l)}) as __expired`;
}

/** No lock: the lock columns of a data row. */
export function noLockSql(): string {
  return LOCK_INFO_COLUMNS.map(([name, type]) => `null::${type} as ${name}`).join(', ');
}

/**
 * The part of every read that checks its timestamp against the shard's GC
 * safe point, in the read's own snapshot (schema/core/0002-gc-safe-point.sql):
 * one row of kind 'g' carrying the safe point when the read is too old.
 */
export function gcCheckSql(storage: TableSql, readTs: string): string {
  const columns = storage.meta.columns.map((c) => `null::${storageType(c.sqlType)}`).join(', ');
  return `select 'g', 0, ${columns}, null::text[], g.safe_point::text, null, null, null from percolator_gc g where g.safe_point > ${readTs}`;
}

/**
 * A GC check (gcCheckSql) as the first branch of a read's `union all`,
 * where it names the statement's columns: `leading`, the aliased columns
 * before the lock columns. First, so that a `gate` (SnapshotView.gate)
 * that fails does so before the scan runs: Postgres runs the branches in order.
 */
export function leadingGcCheckSql(leading: readonly string[], readTs: string, gate: string): string {
  const lockColumns = LOCK_INFO_COLUMNS.map(([name, type]) => `${name === '__lock_start' ? 'g.safe_point::text' : `null::${type}`} as ${name}`);
  return `select ${[...leading, ...lockColumns].join(', ')} from percolator_gc g where g.safe_point > ${readTs} and ${gate}`;
}

export interface RawReadRow {
  __ord: unknown;
  __kind: 'r' | 'l' | 'g';
  __lock_key: string[] | null;
  __lock_start: string | null;
  __primary_table: string | null;
  __primary_key: string[] | null;
  __expired: boolean | null;
  [column: string]: unknown;
}

/** A read row as an array of its values (shard.query's rowMode 'array'), positioned by a ReadRowLayout. */
export type ReadRowValues = readonly unknown[];

/** Where a read statement's columns sit in its array rows: the kind, order and lock columns, and each table column (by ColumnMeta order). */
export interface ReadRowLayout {
  readonly kind: number;
  readonly ord: number;
  readonly lockKey: number;
  readonly lockStart: number;
  readonly primaryTable: number;
  readonly primaryKey: number;
  readonly expired: number;
  readonly columns: readonly number[];
}

/** Layouts by result shape (a prepared statement's column names: one array per connection and statement) and table columns. */
const layouts = new WeakMap<readonly string[], WeakMap<readonly ColumnMeta[], ReadRowLayout>>();

/** The layout of a read statement's result, from its column names (`columns`: the table's, found by name). */
export function readRowLayout(names: readonly string[], columns: readonly ColumnMeta[]): ReadRowLayout {
  let byColumns = layouts.get(names);
  if (!byColumns) layouts.set(names, (byColumns = new WeakMap()));
  let layout = byColumns.get(columns);
  if (!layout) byColumns.set(columns, (layout = findReadRowLayout(names, columns)));
  return layout;
}

function findReadRowLayout(names: readonly string[], columns: readonly ColumnMeta[]): ReadRowLayout {
  const at = (name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`read statement returned no column ${name}`);
    return i;
  };
  return {
    kind: at('__kind'),
    ord: at('__ord'),
    lockKey: at('__lock_key'),
    lockStart: at('__lock_start'),
    primaryTable: at('__primary_table'),
    primaryKey: at('__primary_key'),
    expired: at('__expired'),
    columns: columns.map((c) => at(c.name)),
  };
}

/** The lock columns of an array row, as an object row would carry them. */
export function lockColumnsOf(layout: ReadRowLayout, raw: ReadRowValues): Pick<RawReadRow, '__lock_key' | '__lock_start' | '__primary_table' | '__primary_key' | '__expired'> {
  return {
    __lock_key: raw[layout.lockKey] as string[] | null,
    __lock_start: raw[layout.lockStart] as string | null,
    __primary_table: raw[layout.primaryTable] as string | null,
    __primary_key: raw[layout.primaryKey] as string[] | null,
    __expired: raw[layout.expired] as boolean | null,
  };
}

/** A reader's own write of a key, merged into its reads: the new image (put) or a deletion. */
export interface BufferedImage {
  readonly keyTexts: KeyTexts;
  /** Driver texts of the non-key columns, in `valueColumns` order (absent for del). */
  readonly valueTexts?: readonly (string | null)[] | undefined;
  readonly op: string;
}
