import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { shardOf } from '../../src/shard/shard-of.js';
import { queryOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { indexedUsers, indexedUsersMeta } from '../support/users-schema.js';

/**
 * One round trip per shard per protocol phase: a transaction writing a row
 * and its index entries (three tables) prewrites each shard it touches
 * with one statement and commits each with one, whatever the number of
 * tables written there; no local transaction of several statements
 * (begin ... commit). Counted by pg_stat_statements on every shard.
 */
const schema = { indexedUsers };
let cluster: TestCluster;
let db: Database<typeof schema>;

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3, shardSettings: { shared_preload_libraries: 'pg_stat_statements' } });
  await queryOnShards(cluster.shardUrls, 'create extension pg_stat_statements');
  db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, gc: false });
  await db.migrate();
});

afterAll(async () => {
  await db?.close();
  await cluster?.destroy();
});

/** Per shard: prewrite statements (calls of any prewrite function, several in one statement count once), commits (statements writing versions), begin/commit. */
const STATEMENTS_BY_KIND = `
  select kind, sum(calls)::int as calls from (
    select calls, case
      when query like '%__prewrite"(%' then 'prewrite'
      when query like '%__versions"%' and query like '%insert into%' and query not like '%__prewrite"(%' then 'commit'
      when query in ('begin', 'commit', 'BEGIN', 'COMMIT') then 'transaction'
      else 'other' end as kind
    from pg_stat_statements
    where toplevel and dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat_statements%'
  ) s group by kind`;

async function statementsByShard(): Promise<Record<string, number>[]> {
  const rows = await queryOnShards<{ kind: string; calls: number }>(cluster.shardUrls, STATEMENTS_BY_KIND);
  return rows.map((shard) => Object.fromEntries(shard.map((r) => [r.kind, r.calls])));
}

describe('statements per shard and phase', () => {
  it('an insert into a table with a unique and a plain index: one prewrite and one commit statement per shard it touches', async () => {
    const touched = new Map<number, number>(); // shard -> tables written there, over all transactions
    const rows = Array.from({ length: 12 }, (_, id) => ({ id, email: `u${id}@x`, status: `s${id % 3}` }));
    const shardsOf = rows.map((row) => {
      const shards = new Set([
        shardOf(indexedUsersMeta, row, 3),
        ...indexedUsersMeta.indexes.map((index) => shardOf(index.storage, row, 3)),
      ]);
      return shards;
    });
    await queryOnShards(cluster.shardUrls, 'select pg_stat_statements_reset()');
    // One transaction at a time, so that no statement is shared between two of them.
    for (const row of rows) await db.insert(indexedUsers).values(row);
    await db.close(); // waits for the asynchronous secondaries
    for (const shards of shardsOf) for (const shard of shards) touched.set(shard, (touched.get(shard) ?? 0) + 1);
    // Some transaction wrote two or three tables on one shard: the case that used to take one statement per table.
    expect(shardsOf.some((shards) => shards.size < 3)).toBe(true);

    const statements = await statementsByShard();
    for (let shard = 0; shard < 3; shard++) {
      expect({ shard, prewrites: statements[shard]!.prewrite ?? 0, commits: statements[shard]!.commit ?? 0 }).toEqual({ shard, prewrites: touched.get(shard) ?? 0, commits: touched.get(shard) ?? 0 });
      expect(statements[shard]!.transaction).toBeUndefined();
    }
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, gc: false });
    expect(await db.select().from(indexedUsers).where(eq(indexedUsers.email, 'u7@x'))).toHaveLength(1);
  });
});
