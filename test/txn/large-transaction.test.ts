import { lt } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeTable } from '../../src/schema/table-meta.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { useEngines } from '../support/engine-fixture.js';
import { countOnShards, queryOnShards } from '../support/raw-shards.js';
import type { TestCluster } from '../support/test-cluster.js';

const items = pgTable('items', { id: integer('id').primaryKey(), payload: text('payload').notNull() });
const itemsMeta = describeTable(items);
const ROWS = 100_000;
/** Rows per statement (docs/DESIGN.md, "Values on the wire"). */
const BATCH_ROWS = 5000;

describe('a transaction writing 100,000 rows', () => {
  const fixture = useEngines({
    // pg_stat_statements counts the statements each shard executed.
    shardSettings: { shared_preload_libraries: 'pg_stat_statements' },
    tables: [itemsMeta],
    seed: false,
    // A small pool: the commit must work within it. No version GC: its statements would be counted.
    first: { pool: { max: 2 }, chunkRows: BATCH_ROWS, gc: false },
  });
  let cluster: TestCluster;
  let engine: TransactionEngine;

  beforeAll(async () => {
    cluster = fixture.cluster;
    engine = fixture.engines[0]!;
    await queryOnShards(cluster.shardUrls, 'create extension pg_stat_statements');
  });

  it('commits in bounded statements and is then visible all at once', async () => {
    await queryOnShards(cluster.shardUrls, 'select pg_stat_statements_reset()');
    const tx = await engine.begin();
    tx.put(itemsMeta, Array.from({ length: ROWS }, (_, id) => ({ id, payload: `item-${id}` })));
    const { commitTs } = await tx.commit();
    expect(commitTs).toBeDefined();
    await engine.close(); // waits for the asynchronous secondaries

    // Per shard and phase, one statement per batch of at most BATCH_ROWS rows
    // (the primary's shard commits the primary key on its own first), and
    // nothing else but the local transactions' begin and commit and the
    // primary lock's heartbeat (by time, not by rows).
    const statements = await queryOnShards<{ kind: string; calls: number }>(cluster.shardUrls, STATEMENTS_BY_KIND);
    const rowsPerShard = await countOnShards(cluster.shardUrls, 'select count(*) as n from items__versions');
    expect(rowsPerShard.reduce((a, b) => a + b, 0)).toBe(ROWS);
    for (const [shard, rows] of rowsPerShard.entries()) {
      const calls = Object.fromEntries(statements[shard]!.map((r) => [r.kind, r.calls]));
      const batches = Math.ceil(rows / BATCH_ROWS);
      expect(calls.prewrite).toBe(batches);
      expect(calls.commit).toBeGreaterThanOrEqual(batches);
      expect(calls.commit).toBeLessThanOrEqual(batches + 1);
      expect(calls.other).toBeUndefined();
    }
    expect(await countOnShards(cluster.shardUrls, 'select count(*) as n from items__locks')).toEqual([0, 0, 0]);

    engine = fixture.engine();
    const read = await engine.begin();
    expect(await read.select(itemsMeta, { where: lt(items.id, 10) })).toHaveLength(10);
    expect(await read.select(itemsMeta)).toHaveLength(ROWS);
  });
});

/** Calls of the top-level statements a shard ran since the reset, by kind: prewrite function calls, commits (they write versions), begin/commit, TTL extensions, other. */
const STATEMENTS_BY_KIND = `
  select kind, sum(calls)::int as calls from (
    select calls, case
      when query like 'select p.* from percolator_fence_slots(%"items__prewrite"(%' then 'prewrite'
      when query like '%insert into "items__versions"%' then 'commit'
      when query in ('begin', 'commit') then 'transaction'
      when query like 'update "items__locks" l set ttl_ms =%' then 'heartbeat'
      else 'other' end as kind
    from pg_stat_statements
    where toplevel and dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat_statements%'
  ) s group by kind`;
