import { and, asc, eq, gt, or, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { isRetryable, SchemaError, UniqueViolationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import type { KeyValues, Row } from '../schema/row.js';
import type { IndexMeta, TableMeta } from '../schema/table-meta.js';
import { oldLocks } from '../shard/gc-statements.js';
import { indexStates, markBuilding, markComplete } from '../shard/index-build-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { PercolatorTransaction } from './engine-transaction.js';
import type { FoundLock } from './found-lock.js';
import type { LockResolver } from './lock-resolver.js';

/** Rows read and entries written per backfill transaction. */
const BATCH_ROWS = 500;
/** How long the build waits for transactions that prewrote the table before its fence. */
const DRAIN_TIMEOUT_MS = 60_000;

export interface IndexBuildDeps {
  readonly shards: readonly ShardPool[];
  readonly timestampSource: TimestampSource;
  readonly resolver: LockResolver;
  readonly logger: Logger;
  storageFor(meta: TableMeta): TableStorage;
  begin(): Promise<PercolatorTransaction>;
}

/**
 * Online index build (F1's schema change, on Percolator). An index created
 * on a table that has rows is catalogued 'building' by migrate(); readers
 * do not use it until every shard says it is complete. Invariants:
 *
 * 1. Fence before fill: once the index's catalogue row exists on a shard,
 *    every prewrite of the table there either maintains the index or is
 *    refused (the prewrite function's schema fence). The build starts only
 *    after migrate() created it on every shard.
 * 2. Drain: F is a timestamp drawn after that. The build waits until no
 *    lock of the table with start_ts < F is left on any shard (resolving
 *    those of crashed clients): a transaction that prewrote rows before a
 *    shard's fence, without entries, has then committed (below F's
 *    successors: its commit_ts was drawn before the wait ended) or rolled
 *    back. Any row version committed later comes from a fenced writer and
 *    brought its entries.
 * 3. Fill: every row visible to a backfill transaction (each starts after
 *    the drain) gets its entry, written with a lock-only write of the row
 *    in the same transaction: a row changed by another transaction before
 *    the fill commits is a write conflict (the batch runs again and reads
 *    the new image), one changed after it was changed by a fenced writer,
 *    which moves the entry itself. Entries already there for the same row
 *    are skipped, so a build interrupted at any point can run again.
 * 4. A unique index whose rows hold one value twice cannot be built: the
 *    build stops with SchemaError and the index stays 'building' (writers
 *    keep maintaining it, readers never use it), as Postgres leaves an
 *    invalid index behind CREATE UNIQUE INDEX CONCURRENTLY.
 * 5. Complete: marked on every shard only after every shard's rows are
 *    filled; readers check every shard, so a partial mark is never used.
 */
export async function buildIndexes(deps: IndexBuildDeps, indexes: readonly IndexMeta[]): Promise<void> {
  if (indexes.length === 0) return;
  const names = indexes.map((index) => index.storage.name);
  const states = await Promise.all(deps.shards.map((shard) => shard.query<{ name: string; building: boolean | null }>(indexStates(names))));
  const building = indexes.filter((index) => states.some(({ rows }) => rows.some((r) => r.name === index.storage.name && r.building === true)));
  if (building.length === 0) return;
  const buildingNames = building.map((index) => index.storage.name);
  // One state everywhere: a shard that found the table empty catalogued the index complete.
  await Promise.all(deps.shards.map((shard) => shard.query(markBuilding(buildingNames))));
  const fence = await deps.timestampSource.getTimestamp();
  for (const table of new Set(building.map((index) => index.table))) await drain(deps, table, fence);
  for (const index of building) {
    deps.logger.info({ index: index.name, table: index.table.name }, 'building an index over existing rows');
    let entries = 0;
    for (const shard of deps.shards) entries += await fillShard(deps, index, shard.index);
    deps.logger.info({ index: index.name, entries }, 'index built');
  }
  await Promise.all(deps.shards.map((shard) => shard.query(markComplete(buildingNames))));
}

/** Waits until no lock of `table` that started before `fence` is left on any shard (invariant 2). */
async function drain(deps: IndexBuildDeps, table: TableMeta, fence: bigint): Promise<void> {
  const storage = deps.storageFor(table);
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const found: FoundLock[] = [];
    await Promise.all(
      deps.shards.map(async (shard) => {
        const { rows } = await shard.query<{ __lock_key: string[]; __lock_start: string; __primary_table: string; __primary_key: string[]; __expired: boolean }>(oldLocks(storage, fence - 1n));
        for (const r of rows) {
          found.push({ storage, shard: shard.index, keyTexts: r.__lock_key, startTs: BigInt(r.__lock_start), primaryTable: r.__primary_table, primaryKey: r.__primary_key, expired: r.__expired });
        }
      }),
    );
    if (found.length === 0) return;
    if (Date.now() > deadline) {
      throw new SchemaError(`building an index of ${table.name}: transactions that started before the index existed still hold ${found.length} lock(s) after ${DRAIN_TIMEOUT_MS} ms; run migrate() again`);
    }
    // Crashed clients' locks are rolled back once expired; live ones are waited for.
    await deps.resolver.resolveLocks(found);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Fills the entries of one shard's rows, in batches along the primary key (invariant 3); returns how many were written. */
async function fillShard(deps: IndexBuildDeps, index: IndexMeta, shard: number): Promise<number> {
  let after: KeyValues | undefined;
  let written = 0;
  for (;;) {
    const batch = await fillBatch(deps, index, shard, after);
    if (!batch) return written;
    written += batch.written;
    after = batch.last;
  }
}

async function fillBatch(deps: IndexBuildDeps, index: IndexMeta, shard: number, after: KeyValues | undefined): Promise<{ last: KeyValues; written: number } | undefined> {
  const table = index.table;
  for (let attempt = 0; ; attempt++) {
    const tx = await deps.begin();
    try {
      const rows: Row[] = await tx.select(table, {
        where: after ? keysAfter(table, after) : undefined,
        orderBy: table.primaryKey.map((c) => asc(c.column as PgColumn)),
        limit: BATCH_ROWS,
        shards: [shard],
      });
      if (rows.length === 0) {
        await tx.rollback();
        return undefined;
      }
      const written = await tx.backfillEntries(index, rows);
      await tx.commit();
      return { last: table.primaryKey.map((c) => rows[rows.length - 1]![c.key]), written };
    } catch (error) {
      await tx.rollback().catch(() => {});
      if (error instanceof UniqueViolationError) {
        throw new SchemaError(
          `cannot build unique index ${index.name} of ${table.name}: ${JSON.stringify(error.key)} is held by more than one row; it stays unused (writers keep maintaining it) until the duplicates are removed and migrate() runs again`,
          { cause: error },
        );
      }
      if (!isRetryable(error) || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** attempt) * Math.random()));
    }
  }
}

/** Rows whose primary key comes after `key` in key order: `(a, b) > (x, y)` as drizzle operators. */
function keysAfter(table: TableMeta, key: KeyValues): SQL {
  const pk = table.primaryKey;
  const terms = pk.map((c, i) => and(...pk.slice(0, i).map((p, j) => eq(p.column as PgColumn, key[j])), gt(c.column as PgColumn, key[i]))!);
  return terms.length === 1 ? terms[0]! : or(...terms)!;
}
