import { setTimeout as sleep } from 'node:timers/promises';
import { eq, inArray } from 'drizzle-orm';
import { bigint, integer, pgTable } from 'drizzle-orm/pg-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/harness/free-port.js';
import { InvalidInputError, percolator } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { useDatabase } from '../support/database-fixture.js';
import type { TestCluster } from '../support/test-cluster.js';

const ledger = pgTable('ledger', { id: integer().primaryKey(), amount: bigint({ mode: 'number' }).notNull() });
const schema = { ledger };

describe('percolator() checks its time options', () => {
  it('refusing non-positive or non-numeric lockTtlMs, lockWaitTimeoutMs and maxTransactionMs before connecting', async () => {
    const shards = [`postgres://nobody@127.0.0.1:${await freePort()}/x`];
    const base = { oracle: ['127.0.0.1:1'], shards, schema };
    for (const bad of [{ lockTtlMs: 0 }, { lockTtlMs: -5 }, { lockTtlMs: Number.NaN }, { lockTtlMs: '3000' }, { lockWaitTimeoutMs: -1 }, { lockWaitTimeoutMs: Infinity }]) {
      const error = await percolator({ ...base, ...(bad as object) }).catch((e: unknown) => e);
      expect(error, JSON.stringify(bad)).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toMatch(new RegExp(`${Object.keys(bad)[0]} must be`));
    }
    for (const bad of [{ maxTransactionMs: 0 }, { maxTransactionMs: -1 }, { maxTransactionMs: 'soon' }]) {
      const error = await percolator({ ...base, ...(bad as object) }).catch((e: unknown) => e);
      expect(error, JSON.stringify(bad)).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toMatch(/maxTransactionMs must be/);
    }
  });
});

describe('limits of one transaction', () => {
  const fixture = useDatabase(schema, {
    shards: 2,
    maxRetries: 0,
    seed: async (db) => {
      await db.insert(ledger).values(Array.from({ length: 10 }, (_, id) => ({ id, amount: id * 10 })));
    },
  });
  let cluster: TestCluster;
  let db: Database<typeof schema>;

  beforeAll(() => {
    ({ cluster, db } = fixture);
  });

  it('a filter with more bind parameters than the protocol allows is refused with InvalidInputError', async () => {
    const many = Array.from({ length: 70_000 }, (_, i) => i * 10);
    const error = await db.select().from(ledger).where(inArray(ledger.amount, many)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toMatch(/65,535/);
    // Below the limit a long list runs (and the connection that refused nothing is still fine).
    expect(await db.select().from(ledger).where(inArray(ledger.id, Array.from({ length: 60_000 }, (_, i) => i)))).toHaveLength(10);
  });

  it('a serializable commit whose scans add up to more than 65,535 parameters is validated in several statements', async () => {
    const values = (offset: number) => Array.from({ length: 30_000 }, (_, i) => (i + offset) * 10);
    const total = await db.transaction(
      async (tx) => {
        let n = 0;
        for (const offset of [0, 1, 2]) n += (await tx.select().from(ledger).where(inArray(ledger.amount, values(offset)))).length;
        await tx.update(ledger).set({ amount: 1 }).where(eq(ledger.id, 9));
        return n;
      },
      { isolation: 'serializable' },
    );
    expect(total).toBe(10 + 9 + 8);
  });

  it('a transaction running longer than maxTransactionMs fails with TransactionTimeoutError, not retried', async () => {
    const short = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxTransactionMs: 500 });
    let attempts = 0;
    const error = await short
      .transaction(
        async (tx) => {
          attempts++;
          await tx.select().from(ledger).where(eq(ledger.id, 1)).for('update');
          await sleep(900);
          await tx.update(ledger).set({ amount: 2 }).where(eq(ledger.id, 1));
        },
        { maxRetries: 3 },
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TransactionTimeoutError', code: 'TRANSACTION_TIMEOUT', retryable: false });
    expect(attempts).toBe(1);
    await short.close();
    const [row] = await db.select().from(ledger).where(eq(ledger.id, 1));
    expect(row!.amount).toBe(10);
  });
});
