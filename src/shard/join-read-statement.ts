import type { SQL } from 'drizzle-orm';
import { ident } from '../schema/sql-names.js';
import { leadingGcCheckSql, LOCK_INFO_COLUMNS, type BufferedImage } from './read-row-columns.js';
import { renderInto, snapshotLocksSql, snapshotView, type SnapshotView } from './snapshot-read-statement.js';
import type { TableSql } from './table-sql.js';
import type { Timestamp } from '../timestamp.js';

/** One table of a join on one shard: the first is the `from` table, each later one is joined to those before it. */
export interface JoinedTableRead {
  readonly storage: TableSql;
  /** The reader's buffered writes of the table on this shard. */
  readonly buffered: readonly BufferedImage[];
  /** How it joins (absent for the first table). */
  readonly join?: { readonly kind: 'inner' | 'left'; readonly on: SQL } | undefined;
  /**
   * A filter over this table alone that every row of it in the result
   * satisfies (conjuncts of the where, or of its own `on`): a pending
   * write whose image fails it cannot bring a row of this table into the
   * result, so only locks whose image passes it (and locks on the keys
   * returned) are met. Absent: every lock of the table counts.
   */
  readonly lockFilter?: SQL | undefined;
}

export interface JoinReadRequest {
  readonly tables: readonly JoinedTableRead[];
  readonly readTs: Timestamp;
  readonly ownStartTs: Timestamp;
  /** The reader's placement map version (SnapshotReadRequest.mapVersion). */
  readonly mapVersion: bigint;
  readonly slotFilter?: boolean | undefined;
  readonly where?: SQL | undefined;
  readonly orderBy?: readonly SQL[] | undefined;
  readonly limit?: number | undefined;
}

/** The name of column `c` of joined table `t` in a join read's rows. */
export function joinedColumn(t: number, c: number): string {
  return `__c${t}_${c}`;
}

/** A row of a join read: kind 'r' (its `__c<t>_<c>` set), 'l' (a lock met on table `__t`) or 'g' (older than the GC safe point). */
export interface RawJoinRow {
  __kind: 'r' | 'l' | 'g';
  __t: number | null;
  __lock_key: string[] | null;
  __lock_start: string | null;
  __primary_table: string | null;
  __primary_key: string[] | null;
  __expired: boolean | null;
  [column: string]: unknown;
}

/**
 * A join of tables stored on one shard (they share the shard key and the
 * join equates it), in one statement, one snapshot: each table's merged
 * view at readTs (its visible versions, this transaction's buffered writes
 * merged in: snapshot-read-statement.ts) aliased as the user's table, so
 * drizzle's rendered `on`, `where` and ordering run unchanged. The same
 * statement returns, per table, the locks a scan of it would have to meet:
 * locks on the keys the join returned, and locks whose pending image passes
 * the table's lock filter (snapshotLocksSql over the table's rows in the
 * result).
 */
export function buildJoinRead(request: JoinReadRequest): { sql: string; params: unknown[] } {
  const { tables, orderBy, limit } = request;
  const params: unknown[] = [];
  const views: SnapshotView[] = [];
  for (const [t, table] of tables.entries()) {
    const view = { storage: table.storage, readTs: request.readTs, ownStartTs: request.ownStartTs, mapVersion: request.mapVersion, slotFilter: request.slotFilter, where: table.lockFilter, buffered: table.buffered };
    views.push(snapshotView(view, [], { params, buffer: `__buf${t}`, mapVersion: views[0]?.mapVersion }));
  }
  const from = tables
    .map((table, t) => {
      const source = `(${views[t]!.merged}) as ${table.storage.alias}`;
      if (!table.join) return source;
      return `${table.join.kind === 'left' ? 'left join' : 'join'} ${source} on ${renderInto(params, table.join.on)}`;
    })
    .join('\n');
  const where = request.where ? ` where ${renderInto(params, request.where)}` : '';
  const order = orderBy && orderBy.length > 0 ? orderBy.map((o) => renderInto(params, o)).join(', ') : undefined;
  const columns = tables.flatMap((table, t) => table.storage.meta.columns.map((c, i) => `${table.storage.alias}.${ident(c.name)} as ${joinedColumn(t, i)}`));
  const rank = order ? `row_number() over (order by ${order})` : '0::bigint';
  const joined = `select ${columns.join(', ')}, ${rank} as __ord from ${from}${where}${order ? ` order by ${order}` : ''}${limit !== undefined ? ` limit $${params.push(limit)}` : ''}`;

  // Each table's keys in the result, under the key columns' own names (what snapshotLocksSql joins the locks on).
  const keyCtes = tables.map((table, t) => {
    const keys = table.storage.pk.map((c) => `${joinedColumn(t, table.storage.meta.columns.indexOf(c))} as ${ident(c.name)}`);
    const present = joinedColumn(t, table.storage.meta.columns.indexOf(table.storage.pk[0]!));
    return `__r${t} as (select ${keys.join(', ')} from __j where ${present} is not null)`;
  });
  const buffers = views.map((v) => v.withClause).filter((w) => w !== '');
  const ctes = `with ${[...buffers, `__j as (${joined})`, ...keyCtes].join(',\n')}`;

  const nulls = tables.flatMap((table) => table.storage.meta.columns.map(() => 'null')).join(', ');
  const noLock = LOCK_INFO_COLUMNS.map(([name, type]) => `null::${type} as ${name}`).join(', ');
  const rows = `select 'r' as __kind, null::int as __t, __j.__ord, ${tables.flatMap((table, t) => table.storage.meta.columns.map((_, i) => `__j.${joinedColumn(t, i)}`)).join(', ')}, ${noLock} from __j`;
  const locks = tables.map((table, t) => snapshotLocksSql(table.storage, views[t]!, `'l', ${t}, 0, ${nulls}`, `__r${t}`));
  const ts = views[0]!.ts;
  const nullColumns = tables.flatMap((table, t) => table.storage.meta.columns.map((_, i) => `null as ${joinedColumn(t, i)}`));
  // One gate for all tables: they share the map version parameter.
  const gc = leadingGcCheckSql([`'g' as __kind`, 'null::int as __t', '0::bigint as __ord', ...nullColumns], ts, views[0]!.gate);
  return { sql: `${ctes}\n${gc}\nunion all select * from (${rows}) r\nunion all ${locks.join('\nunion all ')}${order ? ' order by 1 desc, 3' : ''}`, params };
}
