import { PgDialect } from 'drizzle-orm/pg-core';
import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { EngineContext } from './engine-context.js';
import type { IndexCandidates } from './engine-contract.js';
import { keyIdOf, keyTextsOf } from './mutation.js';
import type { CandidateSource } from './pessimistic-read.js';
import type { ReadSet } from './read-set.js';
import type { ShardReads } from './shard-reads.js';

const dialect = new PgDialect();

/**
 * The candidates of a locking read through an index: the entries matching
 * the index's part of the filter, read on every shard at the for-update
 * timestamp (not at start_ts: a row that came to match since the
 * transaction began has its entry there), own entries merged and met
 * locks resolved as for any read at that timestamp (a live writer is
 * pushed past it, as a row inserted by a concurrent uncommitted
 * transaction is not seen by Postgres's `for update`). Their rows are then
 * locked by key and the whole filter checked again on the newest versions
 * (pessimistic-read.ts). Serializable transactions record the entries'
 * read, as a non-locking read through the index does.
 */
export function indexCandidates(
  ctx: EngineContext,
  reads: ShardReads,
  readSet: ReadSet | undefined,
  table: TableStorage,
  entries: TableStorage,
  through: IndexCandidates,
  sync: () => Promise<void>,
): CandidateSource {
  const shards = ctx.shards.map((_, i) => i);
  const meta: TableMeta = table.meta;
  return {
    async candidates(forUpdateTs: Timestamp): Promise<Map<number, KeyTexts[]>> {
      await sync(); // our own entries are read with the others
      const mapVersion = ctx.placement.map.version;
      const results = await Promise.all(shards.map((shard) => reads.scan(entries, shard, { where: through.where }, mapVersion, forUpdateTs)));
      const byShard = new Map<number, Map<string, KeyTexts>>();
      for (const result of results) {
        for (const entry of result.rows) {
          const keyTexts = keyTextsOf(table, meta.primaryKey.map((c) => entry[c.key]));
          const shard = ctx.placement.shardOfKey(meta, keyTexts);
          let keys = byShard.get(shard);
          if (!keys) byShard.set(shard, (keys = new Map()));
          keys.set(keyIdOf(keyTexts), keyTexts);
        }
      }
      return new Map([...byShard].map(([shard, keys]) => [shard, [...keys.values()]]));
    },
    record(forUpdateTs: Timestamp): void {
      const rendered = through.where ? dialect.sqlToQuery(through.where) : undefined;
      readSet?.addPredicate({ table: entries.meta.name, where: rendered && { sql: rendered.sql, params: rendered.params }, shards, readTs: forUpdateTs });
    },
  };
}

