import { eq, gt } from 'drizzle-orm';
import { bigint, integer, pgTable } from 'drizzle-orm/pg-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SerializationError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { useDatabase } from '../support/database-fixture.js';

const ledger = pgTable('ledger', { id: integer().primaryKey(), amount: bigint({ mode: 'bigint' }).notNull() });
const schema = { ledger };

describe('serializable commits whose filters compare bigint columns', () => {
  const fixture = useDatabase(schema, {
    shards: 2,
    maxRetries: 0,
    seed: async (db) => {
      await db.insert(ledger).values([{ id: 1, amount: 10n }, { id: 2, amount: 2n ** 60n }]);
    },
  });
  let db: Database<typeof schema>;

  beforeAll(() => {
    db = fixture.db;
  });

  it('validate the read set (the bigint parameters are checked, not serialised away)', async () => {
    const seen = await db.transaction(
      async (tx) => {
        const rows = await tx.select().from(ledger).where(gt(ledger.amount, 5n));
        await tx.update(ledger).set({ amount: 11n }).where(eq(ledger.id, 1));
        return rows.length;
      },
      { isolation: 'serializable' },
    );
    expect(seen).toBe(2);
    const [row] = await db.select().from(ledger).where(eq(ledger.id, 1));
    expect(row!.amount).toBe(11n);
  });

  it('still fail with SerializationError when a row enters the scanned range', async () => {
    const error = await db
      .transaction(
        async (tx) => {
          await tx.select().from(ledger).where(gt(ledger.amount, 2n ** 59n));
          await db.insert(ledger).values({ id: 3, amount: 2n ** 61n }); // commits inside our window
          await tx.update(ledger).set({ amount: 12n }).where(eq(ledger.id, 1));
        },
        { isolation: 'serializable' },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
  });
});
