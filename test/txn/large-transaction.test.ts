import { lt } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import { describeTable } from '../../src/schema/table-meta.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { countOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const items = pgTable('items', { id: integer('id').primaryKey(), payload: text('payload').notNull() });
const itemsMeta = describeTable(items);
const ROWS = 100_000;

describe('a transaction writing 100,000 rows', () => {
  let cluster: TestCluster;
  let tso: TimestampSource;
  let engine: TransactionEngine;

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    tso = await cluster.createTimestampSource();
    // A small pool: the commit must work within it.
    engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource: tso, registry: new Registry(), pool: { max: 2 } });
    await engine.migrate([itemsMeta]);
  });
  afterAll(async () => {
    await engine?.close();
    await tso?.close();
    await cluster?.destroy();
  });

  it('commits in bounded statements and is then visible all at once', async () => {
    const tx = await engine.begin();
    tx.put(itemsMeta, Array.from({ length: ROWS }, (_, id) => ({ id, payload: `item-${id}` })));
    const { commitTs } = await tx.commit();
    expect(commitTs).toBeDefined();

    const read = await engine.begin();
    expect(await read.select(itemsMeta, { where: lt(items.id, 10) })).toHaveLength(10);
    await engine.close(); // waits for the asynchronous secondaries
    const versions = await countOnShards(cluster.shardUrls, 'select count(*) as n from items__versions');
    expect(versions.reduce((a, b) => a + b, 0)).toBe(ROWS);
    expect(await countOnShards(cluster.shardUrls, 'select count(*) as n from items__locks')).toEqual([0, 0, 0]);
    engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource: tso, registry: new Registry() });
    engine.register([itemsMeta]);
    const all = await (await engine.begin()).select(itemsMeta);
    expect(all).toHaveLength(ROWS);
  });
});
