import { ident } from '../schema/sql-names.js';
import { lockInfoSql } from './read-row-columns.js';
import type { Statement } from './shard-pool.js';
import type { TableSql } from './table-sql.js';

/**
 * The statements that copy a batch of slots' rows from one shard to another
 * (src/txn/slot-move-copy.ts): the storage tables' own columns and types
 * read from the catalogue of Postgres, pages of rows read as text in key
 * order, written with a cast to each column's stored type (every type has a
 * text form that reads back as the same value), and the slots' locks.
 * Pages filtered by a snapshot return only the rows written
 * by Postgres transactions that snapshot did not see (by their xmin): the
 * catch-up finds every version written since, whatever its commit_ts
 * (a rollback marker's is its start_ts, far below any watermark).
 */

/** One column of a storage table as Postgres stores it. */
export interface StoredColumn {
  readonly name: string;
  /** format_type(): the exact type, with modifiers (varchar(20), numeric(10,2), a schema-qualified enum). */
  readonly type: string;
}

/** The columns of storage table `relation` (unquoted name) in order: rows `{ name, type }`; none if it does not exist. */
export function storedColumnsOf(relation: string): Statement {
  return {
    text: `select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type from pg_attribute a
where a.attrelid = to_regclass(quote_ident($1)) and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    values: [relation],
  };
}

/** The shard's current snapshot (`snapshot`, pg_snapshot text): rows written after it are caught up later. */
export const currentSnapshot: Statement = { text: 'select pg_current_snapshot()::text as snapshot', values: [] };

/**
 * The xid8 of a row's xmin, by the epoch of the current xid: a committed
 * row's xid is below the current one and within 2^31 of it (wraparound
 * protection), so it is the one in this epoch, or the previous one.
 */
const ROW_XID8 = `(case when (x.epoch | t.xmin::text::bigint) >= x.next then (x.epoch | t.xmin::text::bigint) - 4294967296
  else (x.epoch | t.xmin::text::bigint) end)::text::xid8`;
const CURRENT_XID = `(select n.next, (n.next >> 32) << 32 as epoch from (select pg_snapshot_xmax(pg_current_snapshot())::text::bigint as next) n) x`;

/** A page to read: the table, its columns, the key order, and where the previous page ended. */
export interface SlotPage {
  readonly relation: string;
  readonly columns: readonly StoredColumn[];
  /** The columns the page is ordered by (the table's primary key). */
  readonly order: readonly string[];
  readonly slots: readonly number[];
  /** The last row's values of `order` (as text) on the previous page; none for the first page. */
  readonly after: readonly (string | null)[] | undefined;
  /** Only rows written by transactions this snapshot (pg_snapshot text) did not see. */
  readonly since: string | undefined;
  readonly limit: number;
}

/**
 * A page of the slots' rows in key order, each row one `text[]` (`r`) of
 * every column in `columns` order (NULL stays NULL). Keyset-paged: the
 * primary key's index is walked from `after`, the slot checked per row.
 */
export function readSlotPage(page: SlotPage): Statement {
  const typeOf = new Map(page.columns.map((c) => [c.name, c.type]));
  const order = page.order.map(ident);
  const values: unknown[] = [page.slots, page.limit];
  const where = ['t.slot = any($1::int[])'];
  if (page.after) {
    values.push(page.after);
    where.push(`(${order.map((c) => `t.${c}`).join(', ')}) > (${page.order.map((c, i) => `($3::text[])[${i + 1}]::${typeOf.get(c)}`).join(', ')})`);
  }
  if (page.since !== undefined) {
    values.push(page.since);
    where.push(`not pg_visible_in_snapshot(${ROW_XID8}, $${values.length}::pg_snapshot)`);
  }
  const from = page.since !== undefined ? `${ident(page.relation)} t cross join ${CURRENT_XID}` : `${ident(page.relation)} t`;
  return {
    text: `select array[${page.columns.map((c) => `t.${ident(c.name)}::text`).join(', ')}] as r from ${from}
where ${where.join(' and ')} order by ${order.map((c) => `t.${c}`).join(', ')} limit $2`,
    values,
  };
}

/**
 * Writes rows read by readSlotPage (same `columns`) into `relation`, each
 * value cast to its stored type. `keep`: 'first' leaves a row whose key is
 * already there (versions: immutable once written, so a copy twice is one);
 * 'newer' replaces it when the copied row's commit_ts is greater (latest
 * rows: each key's newest, as the commit statements keep them).
 */
export function writeSlotRows(relation: string, columns: readonly StoredColumn[], key: readonly string[], keep: 'first' | 'newer', rows: readonly (readonly (string | null)[])[]): Statement {
  const names = columns.map((c) => ident(c.name));
  const conflict =
    keep === 'first'
      ? 'on conflict do nothing'
      : `on conflict (${key.map(ident).join(', ')}) do update set ${names.filter((_, i) => !key.includes(columns[i]!.name)).map((c) => `${c} = excluded.${c}`).join(', ')}
  where ${ident(relation)}.commit_ts < excluded.commit_ts`;
  return {
    text: `insert into ${ident(relation)} (${names.join(', ')})
select ${columns.map((c, i) => `u.x${i}::${c.type}`).join(', ')} from unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(', ')}) as u(${columns.map((_, i) => `x${i}`).join(', ')})
${conflict}`,
    values: columns.map((_, i) => rows.map((r) => r[i] ?? null)),
  };
}

/** The locks held in the slots (lockInfoSql's columns), for the lock resolver. */
export function locksInSlots(storage: TableSql, slots: readonly number[]): Statement {
  return { text: `select ${lockInfoSql(storage, 'l')} from ${storage.locks} l where l.slot = any($1::int[])`, values: [slots] };
}
