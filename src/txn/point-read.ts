import { ident, storageType } from '../shard/sql-names.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { Mutation } from './mutation.js';
import { gcCheckSql, LOCK_INFO_COLUMNS, lockInfoSql, splitReadRows, type RawReadRow, type ShardReadResult } from './snapshot-read.js';
import { MemberFailure, type BatchedStatement } from './statement-batcher.js';

export interface PointReadRequest {
  readonly storage: TableStorage;
  readonly readTs: Timestamp;
  /** Our own start ts: our locks are never reported. */
  readonly ownStartTs: Timestamp;
  /** Keys to read from storage (none of them buffered by this transaction). */
  readonly keys: readonly KeyTexts[];
  /** Buffered puts of requested keys: returned as this transaction sees them. */
  readonly bufferedPuts: readonly Mutation[];
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
  ];
  return { sql: storage.statementText('pointReadBuffered', () => renderPointRead(storage)), params };
}

/** Parameters: $1 readTs, $2 own start ts, one text[] per key column, then one per key and value column of the buffered images. */
function renderPointRead(storage: TableStorage): string {
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
  return `${storedRowsSql(storage, keys, '$1::bigint', '0::bigint')}
union all ${buffered}
union all ${lockRowsSql(storage, keys, '$1::bigint', '$2::bigint', '0')}
union all ${gcCheckSql(storage, '$1::bigint')}`;
}

/**
 * A point read's first branch: per key of `keys` (a FROM item `k` with text
 * columns k0, k1, ...), its newest put at or below `ts`, found by one
 * backward probe of the versions index. `ord` tags the rows (__ord).
 */
function storedRowsSql(storage: TableStorage, keys: string, ts: string, ord: string): string {
  const { pk, valueColumns: values } = storage;
  return `select 'r' as __kind, ${ord} as __ord, ${storage.meta.columns.map((c) => `v.${ident(c.name)}`).join(', ')}, ${noLockSql()}
from ${keys} cross join lateral (
  select ${[...pk, ...values].map((c) => ident(c.name)).join(', ')}, op from ${storage.versions} v
  where ${matchKeySql(storage, 'v')} and v.commit_ts <= ${ts} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
where v.op = 'put'`;
}

/** The locks of other transactions than `own` on `keys`, started at or below `ts` (`start_ts + 0`: found by key, not by start_ts). */
function lockRowsSql(storage: TableStorage, keys: string, ts: string, own: string, ord: string): string {
  const lockColumns = storage.meta.columns.map((c) => (storage.pk.includes(c) ? `l.${ident(c.name)}` : `null::${storageType(c.sqlType)}`)).join(', ');
  return `select 'l', ${ord}, ${lockColumns}, ${lockInfoSql(storage, 'l')}
from ${keys} join ${storage.locks} l on ${matchKeySql(storage, 'l')}
where l.start_ts + 0 <= ${ts} and l.start_ts <> ${own} and l.op in ('put', 'del')`;
}

function keyNames(storage: TableStorage): string {
  return storage.pk.map((_, i) => `k${i}`).join(', ');
}

function matchKeySql(storage: TableStorage, alias: string): string {
  return storage.pk.map((c, i) => `${alias}.${ident(c.name)} = k.k${i}::${storageType(c.sqlType)}`).join(' and ');
}

function noLockSql(): string {
  return LOCK_INFO_COLUMNS.map(([name, type]) => `null::${type} as ${name}`).join(', ');
}

/** One transaction's point read of stored keys (nothing buffered) on one (shard, table). */
export interface BatchedPointRead {
  readonly readTs: Timestamp;
  readonly ownStartTs: Timestamp;
  readonly keys: readonly KeyTexts[];
}

/**
 * Point reads of several transactions in one statement: renderPointRead's
 * parts with each key's read timestamp and reader beside it, and rows
 * tagged with the reader's index (__req). One snapshot serves them all; it
 * is taken after every reader got its timestamp, which is all a read needs.
 * (`start_ts + 0`: the plan must find locks by key, not by start_ts.)
 */
export function buildPointReadBatch(storage: TableStorage, requests: readonly BatchedPointRead[]): { sql: string; params: unknown[] } {
  const readers: string[] = [];
  const readTs: string[] = [];
  const owners: string[] = [];
  const keys: KeyTexts[] = [];
  let oldest = requests[0]!.readTs;
  for (const [i, request] of requests.entries()) {
    if (request.readTs < oldest) oldest = request.readTs;
    for (const key of request.keys) {
      readers.push(String(i));
      readTs.push(request.readTs.toString());
      owners.push(request.ownStartTs.toString());
      keys.push(key);
    }
  }
  const params = [readers, readTs, owners, ...storage.pk.map((_, i) => keys.map((k) => k[i] ?? null)), oldest];
  return { sql: storage.statementText('pointReadBatch', () => renderPointReadBatch(storage)), params };
}

/** Parameters: $1 reader index, $2 read ts, $3 reader's start ts, one text[] per key column (one element per key), then the oldest read ts. */
function renderPointReadBatch(storage: TableStorage): string {
  const names = keyNames(storage);
  const keyArrays = storage.pk.map((_, i) => `$${4 + i}::text[]`).join(', ');
  const oldest = `$${4 + storage.pk.length}::bigint`;
  return `with k as (select k.r::int as __req, k.t::bigint as __ts, k.o::bigint as __own, ${names} from unnest($1::text[], $2::text[], $3::text[], ${keyArrays}) as k(r, t, o, ${names}))
${storedRowsSql(storage, 'k', 'k.__ts', 'k.__req')}
union all ${lockRowsSql(storage, 'k', 'k.__ts', 'k.__own', 'k.__req')}
union all ${gcCheckSql(storage, oldest)}`;
}

/** Splits a batch's rows by reader (__ord carries its index); the GC row goes to every reader older than the safe point. */
export const pointReadStatement: BatchedStatement<BatchedPointRead, ShardReadResult> = {
  async run(shard, storage, requests) {
    const query = buildPointReadBatch(storage, requests);
    const { rows } = await shard.query<RawReadRow>({ text: query.sql, values: query.params }, { prepare: true });
    const byReader = requests.map((): RawReadRow[] => []);
    const gc = rows.filter((r) => r.__kind === 'g');
    for (const row of rows) if (row.__kind !== 'g') byReader[Number(row.__ord)]!.push(row);
    return requests.map((request, i) => {
      try {
        return splitReadRows(shard, storage, request.readTs, [...gc.filter((g) => BigInt(g.__lock_start!) > request.readTs), ...byReader[i]!]);
      } catch (error) {
        return new MemberFailure(error);
      }
    });
  },
  keys: (request) => request.keys,
  keysMayRepeat: true,
};

