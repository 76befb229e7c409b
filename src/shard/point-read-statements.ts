import type { KeyTexts } from './key-text.js';
import { gcCheckSql, lockInfoSql, noLockSql, type BufferedImage } from './read-row-columns.js';
import { ident, storageType } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';
import { staleReadCheckSql } from './slot-read-filter.js';
import type { Timestamp } from '../timestamp.js';

/** One reader's keys in a buildSharedPointRead statement. */
export interface SharedPointReadMember {
  readonly readTs: Timestamp;
  readonly ownStartTs: Timestamp;
  /** The reader's placement map version (staleReadCheckSql). */
  readonly mapVersion: bigint;
  readonly keys: readonly KeyTexts[];
}

export interface PointReadRequest {
  readonly storage: TableSql;
  readonly readTs: Timestamp;
  /** Our own start ts: our locks are never reported. */
  readonly ownStartTs: Timestamp;
  /** The reader's placement map version, which sent each key to the shard owning its slot: refused if this shard deleted a slot's rows since (staleReadCheckSql). */
  readonly mapVersion: bigint;
  /** Keys to read from storage (none of them buffered by this transaction). */
  readonly keys: readonly KeyTexts[];
  /** Buffered puts of requested keys: returned as this transaction sees them. */
  readonly bufferedPuts: readonly Pick<BufferedImage, 'keyTexts' | 'valueTexts'>[];
}

/**
 * Reads keys by primary key at readTs in one statement: per key, one
 * backward probe of the versions index (newest put/del at or below readTs),
 * so the cost does not grow with the key's history or the table's size; and
 * the locks of other transactions on those keys that a correct read must
 * not skip. The general filtered read (buildSnapshotRead) cannot push a key
 * list into its DISTINCT ON, which sorts every version of the shard.
 * Rows come back in the shape of buildSnapshotRead's (same columns, same
 * parser). This form also returns the transaction's buffered images of
 * requested keys, through Postgres's types; a read with none shares a
 * statement with other transactions' reads instead (pointReadStatement).
 */
export function buildPointRead(request: PointReadRequest): { sql: string; params: unknown[] } {
  const { storage, keys, bufferedPuts } = request;
  const params: unknown[] = [
    request.readTs,
    request.ownStartTs,
    ...storage.pk.map((_, i) => keys.map((k) => k[i] ?? null)),
    ...storage.pk.map((_, i) => bufferedPuts.map((m) => m.keyTexts[i] ?? null)),
    ...storage.valueColumns.map((_, i) => bufferedPuts.map((m) => m.valueTexts?.[i] ?? null)),
    request.mapVersion,
  ];
  return { sql: storage.statementText('pointReadBuffered', () => renderPointRead(storage)), params };
}

/** Parameters: $1 readTs, $2 own start ts, one text[] per key column, then one per key and value column of the buffered images, then the map version. */
function renderPointRead(storage: TableSql): string {
  const { pk, valueColumns: values } = storage;
  let next = 3;
  const array = (): string => `$${next++}::text[]`;
  const keys = `unnest(${pk.map(array).join(', ')}) as k(${keyNames(storage)})`;
  const arrays = [...pk.map(array), ...values.map(array)];
  const names = [...pk.map((_, i) => `k${i}`), ...values.map((_, i) => `v${i}`)];
  const casts = storage.meta.columns.map((c) => {
    const k = pk.indexOf(c);
    return k >= 0 ? `b.k${k}::${storageType(c.sqlType)}` : `b.v${values.indexOf(c)}::${storageType(c.sqlType)}`;
  });
  const buffered = `select 'r', 0, ${casts.join(', ')}, ${noLockSql()} from unnest(${arrays.join(', ')}) as b(${names.join(', ')})`;
  return `${storedRowsSql(storage, keys, '$1::bigint', '0::bigint', `$${next}::bigint`)}
union all ${buffered}
union all ${lockRowsSql(storage, keys, '$1::bigint', '$2::bigint', '0')}
union all ${gcCheckSql(storage, '$1::bigint')}`;
}

/**
 * A point read's first branch: per key of `keys` (a FROM item `k` with text
 * columns k0, k1, ...), its newest put at or below `ts`, found by one
 * backward probe of the versions index. `ord` tags the rows (__ord).
 */
function storedRowsSql(storage: TableSql, keys: string, ts: string, ord: string, mapVersion: string): string {
  const { pk, valueColumns: values } = storage;
  return `select 'r' as __kind, ${ord} as __ord, ${storage.meta.columns.map((c) => `v.${ident(c.name)}`).join(', ')}, ${noLockSql()}
from ${keys} cross join lateral (
  select ${[...pk, ...values].map((c) => ident(c.name)).join(', ')}, op from ${storage.versions} v
  where ${matchKeySql(storage, 'v')} and v.commit_ts <= ${ts} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
where v.op = 'put' and ${staleReadCheckSql(mapVersion)}`;
}

/** The locks of other transactions than `own` on `keys`, started at or below `ts` (`start_ts + 0`: found by key, not by start_ts). */
function lockRowsSql(storage: TableSql, keys: string, ts: string, own: string, ord: string): string {
  const lockColumns = storage.meta.columns.map((c) => (storage.pk.includes(c) ? `l.${ident(c.name)}` : `null::${storageType(c.sqlType)}`)).join(', ');
  return `select 'l', ${ord}, ${lockColumns}, ${lockInfoSql(storage, 'l')}
from ${keys} join ${storage.locks} l on ${matchKeySql(storage, 'l')}
where l.start_ts + 0 <= ${ts} and l.start_ts <> ${own} and l.op in ('put', 'del')`;
}

function keyNames(storage: TableSql): string {
  return storage.pk.map((_, i) => `k${i}`).join(', ');
}

function matchKeySql(storage: TableSql, alias: string): string {
  return storage.pk.map((c, i) => `${alias}.${ident(c.name)} = k.k${i}::${storageType(c.sqlType)}`).join(' and ');
}

/**
 * Point reads of several transactions in one statement: renderPointRead's
 * parts with each key's read timestamp and reader beside it, and rows
 * tagged with the reader's index (__req). One snapshot serves them all; it
 * is taken after every reader got its timestamp, which is all a read needs.
 * (`start_ts + 0`: the plan must find locks by key, not by start_ts.)
 */
export function buildSharedPointRead(storage: TableSql, requests: readonly SharedPointReadMember[]): { sql: string; params: unknown[] } {
  const readers: string[] = [];
  const readTs: string[] = [];
  const owners: string[] = [];
  const keys: KeyTexts[] = [];
  let oldest = requests[0]!.readTs;
  // The oldest map version of the statement's readers: a refusal sends them all to read the map again (rare: a slot's rows were deleted).
  let oldestMap = requests[0]!.mapVersion;
  for (const [i, request] of requests.entries()) {
    if (request.readTs < oldest) oldest = request.readTs;
    if (request.mapVersion < oldestMap) oldestMap = request.mapVersion;
    for (const key of request.keys) {
      readers.push(String(i));
      readTs.push(request.readTs.toString());
      owners.push(request.ownStartTs.toString());
      keys.push(key);
    }
  }
  const params = [readers, readTs, owners, ...storage.pk.map((_, i) => keys.map((k) => k[i] ?? null)), oldest, oldestMap];
  return { sql: storage.statementText('sharedPointRead', () => renderSharedPointRead(storage)), params };
}

/** Parameters: $1 reader index, $2 read ts, $3 reader's start ts, one text[] per key column (one element per key), then the oldest read ts and map version. */
function renderSharedPointRead(storage: TableSql): string {
  const names = keyNames(storage);
  const keyArrays = storage.pk.map((_, i) => `$${4 + i}::text[]`).join(', ');
  const oldest = `$${4 + storage.pk.length}::bigint`;
  return `with k as (select k.r::int as __req, k.t::bigint as __ts, k.o::bigint as __own, ${names} from unnest($1::text[], $2::text[], $3::text[], ${keyArrays}) as k(r, t, o, ${names}))
${storedRowsSql(storage, 'k', 'k.__ts', 'k.__req', `$${5 + storage.pk.length}::bigint`)}
union all ${lockRowsSql(storage, 'k', 'k.__ts', 'k.__own', 'k.__req')}
union all ${gcCheckSql(storage, oldest)}`;
}
