import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { leadingGcCheckSql, LOCK_INFO_COLUMNS, lockInfoSql, noLockSql, type BufferedImage } from './read-row-columns.js';
import { ident, storageType } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';
import { slotReadFilterSql } from './slot-read-filter.js';
import type { Timestamp } from '../timestamp.js';

const dialect = new PgDialect();

/** One filtered read of one table on one shard. */
export interface SnapshotReadRequest {
  readonly storage: TableSql;
  readonly readTs: Timestamp;
  /** Our own start ts: our locks (none before commit) are never waited for. */
  readonly ownStartTs: Timestamp;
  /** The reader's placement map version, one for every shard the statement reads: rows of slots this shard did not own at it are left out (slot-read-filter.ts). */
  readonly mapVersion: bigint;
  /** Test each row's slot (the shard holds rows of slots it did not own at mapVersion); else only check once that it holds none (slot-read-filter.ts). */
  readonly slotFilter?: boolean | undefined;
  readonly where?: SQL | undefined;
  readonly orderBy?: readonly SQL[] | undefined;
  readonly limit?: number | undefined;
  /** `distinct on` expressions: the leading orderBy expressions, so the first row per value is the one kept. */
  readonly distinctOn?: readonly SQL[] | undefined;
  /** The reader's buffered writes of the table on this shard. */
  readonly buffered: readonly BufferedImage[];
}

/**
 * One snapshot read of one table on one shard, in one statement (one
 * snapshot): the visible version of every key at readTs, minus keys this
 * transaction wrote, plus its buffered images, aliased as the user's table
 * name so drizzle's rendered filter and ordering run unchanged in Postgres.
 * The same statement returns the locks a correct read must not skip: locks
 * of other transactions with start_ts <= readTs on keys whose visible
 * version matches the filter, or whose pending image matches it.
 */
export function buildSnapshotRead(request: SnapshotReadRequest): { sql: string; params: unknown[] } {
  const { storage, orderBy, limit, distinctOn } = request;
  const T = storage.alias;
  const ordering = orderBy && orderBy.length > 0 ? sql.join(orderBy.map((o) => sql`${o}`), sql`, `) : undefined;
  const distinctTerms = ordering && distinctOn && distinctOn.length > 0 ? sql.join(distinctOn.map((o) => sql`${o}`), sql`, `) : undefined;
  const view = snapshotView(request, ordering ? (distinctTerms ? [ordering, distinctTerms] : [ordering]) : []);
  const { params, param, ts, filter } = view;
  const order = view.fragments[0];
  const distinct = view.fragments[1] ? `distinct on (${view.fragments[1]}) ` : '';

  // Unordered rows carry no rank (null: nothing for the client to decode per row).
  const rank = order ? `row_number() over (order by ${order})` : 'null::bigint';
  const rowsPart = `select ${distinct}'r' as __kind, ${rank} as __ord, ${T}.*,
${noLockSql()}
from (${view.merged}) as ${T}${filter}${order ? ` order by ${order}` : ''}${limit !== undefined ? ` limit ${param(limit)}` : ''}`;

  const lockColumns = storage.meta.columns.map((c) => (storage.pk.includes(c) ? ident(c.name) : `null::${storageType(c.sqlType)}`)).join(', ');
  const locksPart = snapshotLocksSql(storage, view, `'l', 0, ${lockColumns}`);
  const ctes = `with ${view.withClause ? `${view.withClause}, ` : ''}__r as (${rowsPart}) `;
  const columns = storage.meta.columns.map((c) => `null::${storageType(c.sqlType)} as ${ident(c.name)}`);
  const gc = leadingGcCheckSql([`'g' as __kind`, '0::bigint as __ord', ...columns], ts, view.gate);
  // Rows of an ordered read come back in rank order; an unordered one (an audit) skips the sort.
  return { sql: `${ctes}${gc}\nunion all select * from __r union all ${locksPart}${order ? ' order by 1 desc, 2' : ''}`, params };
}

/**
 * The parts of a read at readTs that every statement over the snapshot
 * shares (buildSnapshotRead, projected-read-statement.ts): the parameters
 * and how to add one, the rendered filter, the user's other SQL fragments
 * (rendered after the filter, their placeholders shifted), and the merged
 * view: the visible version of every key minus keys this transaction wrote,
 * plus its buffered images (the `__buf` CTE in `withClause`).
 */
export interface SnapshotView {
  readonly params: unknown[];
  param(value: unknown): string;
  /** `$n::bigint` of readTs and of the reader's own start ts. */
  readonly ts: string;
  readonly own: string;
  /** ` where <filter>` (empty without one), over the view aliased as the user's table. */
  readonly filter: string;
  readonly hasFilter: boolean;
  /** The rendered texts of the fragments passed to snapshotView, in order. */
  readonly fragments: readonly string[];
  /** `__buf as (...)`, or empty when nothing is buffered. */
  readonly withClause: string;
  /** A select of the table's columns: the rows visible to the reader. */
  readonly merged: string;
  /** A condition the statement must evaluate once, on a branch that reads no table rows (slotReadFilterSql); `true` when `merged` tests each row's slot. */
  readonly gate: string;
  /** `$n::bigint` of the reader's map version. */
  readonly mapVersion: string;
}

/**
 * `shared` lets several views live in one statement (a join,
 * join-read-statement.ts): their parameters go into one array, each
 * names its buffered images' CTE, and the later ones use the first one's
 * map version parameter (so that one gate serves them all). `twoPass` builds the visible rows in two
 * passes (see below), for reads that group them.
 */
export function snapshotView(
  request: SnapshotReadRequest,
  fragments: readonly SQL[],
  shared: { params?: unknown[]; buffer?: string; twoPass?: boolean; mapVersion?: string } = {},
): SnapshotView {
  const { storage, readTs, buffered } = request;
  const buf = shared.buffer ?? '__buf';
  const columns = storage.meta.columns;
  const values = storage.valueColumns;
  const colList = columns.map((c) => ident(c.name)).join(', ');

  // The user's filter is rendered once; Postgres lets the statement refer
  // to its $1..$n wherever the filter is needed. Our own parameters follow.
  const params: unknown[] = shared.params ?? [];
  const where = request.where ? renderInto(params, request.where) : undefined;
  const texts = fragments.map((fragment) => renderInto(params, fragment));
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const ts = `${param(readTs)}::bigint`;
  const own = `${param(request.ownStartTs)}::bigint`;
  const mapVersion = shared.mapVersion ?? `${param(request.mapVersion)}::bigint`;
  const filter = where ? ` where ${where}` : '';

  // The visible version of each key: its latest row when that was committed
  // at or below readTs (nearly every key), else the newest older version,
  // found by index probes made only for the keys committed since.
  // One pass over T__latest, the common case tested first; key columns come
  // from it unchanged, so key filters still push down onto its primary key.
  // Reading every version instead costs a scan of the GC lifetime's history.
  // Aliases start with __, which no user column may: `select __v` is the whole version row, never a column.
  const pkMatch = storage.pk.map((c) => `__v.${ident(c.name)} = __n.${ident(c.name)}`).join(' and ');
  const older = `(select __v from ${storage.versions} __v where ${pkMatch} and __v.commit_ts <= ${ts} and __v.op in ('put', 'del') order by __v.commit_ts desc limit 1)`;
  const picked = columns.map((c) =>
    storage.pk.includes(c) ? `__n.${ident(c.name)}` : `case when __n.commit_ts <= ${ts} then ${ident(c.name)} else (${older}).${ident(c.name)} end as ${ident(c.name)}`,
  );
  // Each key's versions and latest row sit on one shard in one slot: the latest row's slot decides for them all.
  const { rowCondition: owned, gate } = slotReadFilterSql('__n', mapVersion, request.slotFilter ?? false);
  const onePass = `select ${picked.join(', ')} from ${storage.latest} __n
  where ((__n.commit_ts <= ${ts} and __n.op = 'put') or (__n.commit_ts > ${ts} and (${older}).op = 'put')) and ${owned}`;
  // Two passes: latest rows visible as they are (plain columns), then the older versions of keys
  // committed since. The planner charges every row of the one pass a probe of the versions table,
  // and at that cost a grouping is planned as a sort; over plain columns it is a hash aggregate.
  const twoPass = () => `select ${columns.map((c) => `__n.${ident(c.name)}`).join(', ')} from ${storage.latest} __n where __n.commit_ts <= ${ts} and __n.op = 'put' and ${owned}
union all select ${columns.map((c) => `__o.${ident(c.name)}`).join(', ')} from ${storage.latest} __n
  cross join lateral (select __v.* from ${storage.versions} __v where ${pkMatch} and __v.commit_ts <= ${ts} and __v.op in ('put', 'del') order by __v.commit_ts desc limit 1) __o
  where __n.commit_ts > ${ts} and __o.op = 'put' and ${owned}`;
  const visible = shared.twoPass ? twoPass() : onePass;

  let merged = visible;
  let withClause = '';
  if (buffered.length > 0) {
    const arrays = [
      ...storage.pk.map((_, i) => `${param(buffered.map((m) => m.keyTexts[i] ?? null))}::text[]`),
      ...values.map((_, i) => `${param(buffered.map((m) => m.valueTexts?.[i] ?? null))}::text[]`),
      `${param(buffered.map((m) => m.op))}::text[]`,
    ];
    const casts = [
      ...storage.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)} as ${ident(c.name)}`),
      ...values.map((c, i) => `b.v${i}::${storageType(c.sqlType)} as ${ident(c.name)}`),
    ].join(', ');
    const names = [...storage.pk.map((_, i) => `k${i}`), ...values.map((_, i) => `v${i}`), 'op'].join(', ');
    withClause = `${buf} as (select ${casts}, b.op as __op from unnest(${arrays.join(', ')}) as b(${names}))`;
    const pkEq = storage.pk.map((c) => `b.${ident(c.name)} = v.${ident(c.name)}`).join(' and ');
    merged = `select ${colList} from (${visible}) v where not exists (select 1 from ${buf} b where ${pkEq})
union all select ${colList} from ${buf} where __op = 'put'`;
  }
  return { params, param, ts, own, filter, hasFilter: where !== undefined, fragments: texts, withClause, merged, gate, mapVersion };
}

/**
 * The locks a read of `view` depends on, each row `select <prefix>, <lock
 * info columns>`; the read's rows (matching the filter) are the CTE
 * `rowsCte`, with the table's key columns (null: each lock's key is
 * looked up in the view, for a read that keeps no rows). Two parts, each driven by an index:
 *  (a) locks on the keys the read returns (probing the locks' primary
 *      key). Keys cut off by a limit need no check: a lock that could
 *      move one of them into the result has a pending image matching the
 *      filter, and (b) finds it;
 *  (b) locks whose pending image matches the filter: the filter runs on
 *      the lock rows aliased as the user's table, so a key filter is an
 *      index lookup there too.
 * Without a filter every lock at or below readTs counts.
 */
export function snapshotLocksSql(storage: TableSql, view: SnapshotView, prefix: string, rowsCte: string | null = '__r'): string {
  const { ts, own, filter } = view;
  const lockInfo = lockInfoSql(storage, 'l');
  const lockFilter = `l.start_ts <= ${ts} and l.start_ts <> ${own}`;
  const lockSelect = `select ${prefix}, ${LOCK_INFO_COLUMNS.map(([name]) => name).join(', ')}`;
  const lockPk = storage.pk.map((c) => `l.${ident(c.name)}`).join(', ');
  if (!view.hasFilter) {
    return `${lockSelect} from (select ${lockPk}, ${lockInfo}
  from ${storage.locks} l where ${lockFilter} and l.op in ('put', 'del')) l`;
  }
  const pkJoin = storage.pk.map((c) => `l.${ident(c.name)} = m.${ident(c.name)}`).join(' and ');
  const pending = storage.meta.columns.map((c) => `l.${ident(c.name)}`).join(', ');
  // Without the rows at hand (a projected read does not keep them), each lock's key is probed in the view instead.
  const onReadKeys = rowsCte
    ? `from ${rowsCte} m join ${storage.locks} l on ${pkJoin}
  where ${lockFilter} and l.op in ('put', 'del')`
    : `from ${storage.locks} l
  where ${lockFilter} and l.op in ('put', 'del') and exists (select 1 from (select * from (${view.merged}) as ${storage.alias}${view.filter}) m where ${pkJoin})`;
  return `${lockSelect} from (select ${lockPk}, ${lockInfo}
  ${onReadKeys}) l
union all
${lockSelect} from (select ${pending}, ${lockInfo}
  from ${storage.locks} l where ${lockFilter} and l.op = 'put') as ${storage.alias}${filter}`;
}

/** Renders a drizzle fragment whose parameters follow `params` (pushed there); its text. */
export function renderInto(params: unknown[], fragment: SQL): string {
  const rendered = dialect.sqlToQuery(fragment);
  const text = shiftPlaceholders(rendered.sql, params.length);
  params.push(...rendered.params);
  return text;
}

/** `$1` → `$(1 + by)`: drizzle numbers each rendered fragment from $1. */
function shiftPlaceholders(text: string, by: number): string {
  return by === 0 ? text : text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`);
}
