import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import { integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { percolator, SchemaVersionError, SerializationError, ShardUnavailableError, UniqueViolationError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { shardOf } from '../../src/shard/shard-of.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { checkIndexes } from '../support/index-checker.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { users } from '../support/users-schema.js';

const schema = { users };
const meta = describeTable(users);
const emailIndex = meta.indexes.find((i) => i.name === 'users_email_unique')!;

let cluster: TestCluster;
let db: Database<typeof schema>;
let engine: TransactionEngine;
let tso: TimestampSource;

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3 });
  db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxRetries: 30 });
  await db.migrate();
  tso = await cluster.createTimestampSource();
  engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource: tso, gc: false });
  engine.register([meta]);
});

afterAll(async () => {
  await engine?.close();
  await tso?.close();
  await db?.close();
  await cluster?.destroy();
});

beforeEach(async () => {
  await db.delete(users);
});

async function consistent(): Promise<void> {
  const { problems } = await checkIndexes(engine, meta);
  expect(problems).toEqual([]);
}

describe('index entries follow their rows', () => {
  it('insert, update of an indexed column, delete: the entries move with the row, in the same transaction', async () => {
    await db.insert(users).values([
      { id: 1, email: 'a@x', status: 'new', nick: 'ann' },
      { id: 2, email: 'b@x', status: 'new', nick: null },
      { id: 3, email: 'c@x', status: 'old', nick: null },
    ]);
    await consistent();
    expect((await db.select().from(users).where(eq(users.email, 'a@x'))).map((r) => r.id)).toEqual([1]);
    expect((await db.select().from(users).where(eq(users.status, 'new'))).map((r) => r.id).sort()).toEqual([1, 2]);

    await db.update(users).set({ email: 'a2@x', status: 'old' }).where(eq(users.id, 1));
    await consistent();
    expect(await db.select().from(users).where(eq(users.email, 'a@x'))).toEqual([]);
    expect((await db.select().from(users).where(eq(users.email, 'a2@x'))).map((r) => r.id)).toEqual([1]);
    expect((await db.select().from(users).where(eq(users.status, 'old'))).map((r) => r.id).sort()).toEqual([1, 3]);
    // The old value is free again.
    await db.insert(users).values({ id: 4, email: 'a@x', status: 'new' });

    await db.delete(users).where(inArray(users.id, [2, 4]));
    await consistent();
    expect((await db.select().from(users).where(eq(users.status, 'new'))).map((r) => r.id)).toEqual([]);
  });

  it('a transaction reads its own entries, and swapping unique values between two rows commits', async () => {
    await db.insert(users).values([
      { id: 1, email: 'a@x', status: 's' },
      { id: 2, email: 'b@x', status: 's' },
    ]);
    await db.transaction(async (tx) => {
      await tx.update(users).set({ email: 'tmp@x' }).where(eq(users.id, 1));
      await tx.update(users).set({ email: 'a@x' }).where(eq(users.id, 2));
      await tx.update(users).set({ email: 'b@x' }).where(eq(users.id, 1));
      expect((await tx.select().from(users).where(eq(users.email, 'a@x'))).map((r) => r.id)).toEqual([2]);
      expect(await tx.select().from(users).where(eq(users.email, 'tmp@x'))).toEqual([]);
      await tx.insert(users).values({ id: 3, email: 'c@x', status: 'z' });
      expect((await tx.select().from(users).where(eq(users.status, 'z'))).map((r) => r.id)).toEqual([3]);
    });
    await consistent();
    const rows = await db.select().from(users).where(inArray(users.email, ['a@x', 'b@x']));
    expect(rows.map((r) => [r.email, r.id]).sort()).toEqual([['a@x', 2], ['b@x', 1]]);
  });

  it('the engine put of a whole row (no image given) reads the old image and deletes its entries', async () => {
    await db.insert(users).values({ id: 1, email: 'a@x', status: 'old' });
    const tx = await engine.begin();
    tx.put(meta, [{ id: 1, email: 'blind@x', status: 'new', nick: null, score: 0 }]);
    await tx.commit();
    await consistent();
    expect(await db.select().from(users).where(eq(users.email, 'a@x'))).toEqual([]);
  });

  it('a row written, then changed by another transaction, then locked: its entries are judged from the newest version (a conflict here, never a stale entry)', async () => {
    await db.insert(users).values({ id: 1, email: 'a@x', status: 'old' });
    let attempts = 0;
    await db.transaction(async (tx) => {
      attempts++;
      // Only a column no index covers: from the snapshot's image, no entry would change.
      await tx.update(users).set({ score: 7 }).where(eq(users.id, 1));
      // Committed after our snapshot; the locking read then holds the row at that newest version, so our image would bring back a@x.
      if (attempts === 1) await db.update(users).set({ email: 'b@x', status: 'theirs' }).where(eq(users.id, 1));
      await tx.select().from(users).where(eq(users.id, 1)).for('update');
    });
    expect(attempts).toBe(2);
    await consistent();
    const [row] = await db.select().from(users).where(eq(users.id, 1));
    expect(row).toMatchObject({ email: 'b@x', status: 'theirs', score: 7 });
  });

  it('the rest of the filter applies to the rows found through the index', async () => {
    await db.insert(users).values([
      { id: 1, email: 'a@x', status: 'new', score: 5 },
      { id: 2, email: 'b@x', status: 'new', score: 50 },
    ]);
    expect((await db.select().from(users).where(and(eq(users.status, 'new'), gt(users.score, 10)))).map((r) => r.id)).toEqual([2]);
    expect(await db.select().from(users).where(and(eq(users.email, 'a@x'), gt(users.score, 10)))).toEqual([]);
  });
});

describe('unique constraints', () => {
  it('a value held by another row is a UniqueViolationError naming the constraint; NULLs never collide', async () => {
    await db.insert(users).values([
      { id: 1, email: 'a@x', status: 's', nick: null },
      { id: 2, email: 'b@x', status: 's', nick: null },
      { id: 3, email: 'c@x', status: 's', nick: 'cee' },
    ]);
    const insert = db.insert(users).values({ id: 9, email: 'a@x', status: 's' });
    await expect(insert).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(db.insert(users).values({ id: 9, email: 'a@x', status: 's' })).rejects.toMatchObject({ constraint: 'users_email_unique', table: 'users' });
    await expect(db.update(users).set({ nick: 'cee' }).where(eq(users.id, 1))).rejects.toMatchObject({ constraint: 'users_nick_idx' });
    await expect(db.insert(users).values([{ id: 10, email: 'd@x', status: 's' }, { id: 11, email: 'd@x', status: 's' }])).rejects.toBeInstanceOf(UniqueViolationError);
    await consistent();
    expect((await db.select().from(users)).map((r) => r.id).sort()).toEqual([1, 2, 3]);
  });

  it('two concurrent inserts of one value: exactly one commits, the other fails with UniqueViolationError', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => db.transaction(async (tx) => {
        await tx.insert(users).values({ id: 100 + i, email: 'same@x', status: 's' });
      })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(UniqueViolationError);
    await consistent();
  });
});

describe('reads through an index', () => {
  it('a lookup by a unique value reads one shard for the entry and one for the row: it works while the third is down', async () => {
    const candidates = Array.from({ length: 200 }, (_, i) => ({ id: i + 1, email: `u${i}@x`, status: `s${i}` }));
    const shardOfEntry = (email: string) => shardOf(emailIndex.storage, { email }, 3);
    const shardOfRow = (id: number) => shardOf(meta, { id }, 3);
    const pick = candidates.find((u) => shardOfEntry(u.email) !== 2 && shardOfRow(u.id) !== 2)!;
    const blocked = candidates.find((u) => shardOfEntry(u.email) === 2)!;
    await db.insert(users).values([pick, blocked]);
    const down = cluster.shards.servers[2]!;
    await down.stop();
    try {
      const once = { maxRetries: 0 };
      const [row] = await db.transaction((tx) => tx.select().from(users).where(eq(users.email, pick.email)), once);
      expect(row?.id).toBe(pick.id);
      await expect(db.transaction((tx) => tx.select().from(users).where(eq(users.email, blocked.email)), once)).rejects.toBeInstanceOf(ShardUnavailableError);
    } finally {
      await down.start();
    }
  });

  it('snapshot: a read through an index keeps its snapshot; an insert matching it is allowed (write skew), as for a scan', async () => {
    await db.insert(users).values({ id: 1, email: 'a@x', status: 'on' });
    let attempts = 0;
    await db.transaction(async (tx) => {
      attempts++;
      const on = await tx.select().from(users).where(eq(users.status, 'on'));
      await db.insert(users).values({ id: 2, email: 'b@x', status: 'on' });
      // Still the snapshot: the committed insert is not seen through the index.
      expect((await tx.select().from(users).where(eq(users.status, 'on'))).map((r) => r.id)).toEqual([1]);
      expect(await tx.select().from(users).where(eq(users.email, 'b@x'))).toEqual([]);
      await tx.update(users).set({ score: on.length }).where(eq(users.id, 1));
    });
    expect(attempts).toBe(1);
    const [first] = await db.select().from(users).where(eq(users.id, 1));
    expect(first?.score).toBe(1);
  });

  it('serializable: an insert matching a read through an index is a conflict (no phantom)', async () => {
    await db.insert(users).values({ id: 1, email: 'a@x', status: 'on' });
    let attempts = 0;
    await db.transaction(
      async (tx) => {
        attempts++;
        const on = await tx.select().from(users).where(eq(users.status, 'on'));
        if (attempts === 1) {
          // Another transaction inserts a row the read above would have returned, and commits first.
          await db.insert(users).values({ id: 2, email: 'b@x', status: 'on' });
        }
        await tx.update(users).set({ score: on.length }).where(eq(users.id, 1));
      },
      { isolation: 'serializable' },
    );
    expect(attempts).toBe(2);
    const [first] = await db.select().from(users).where(eq(users.id, 1));
    expect(first?.score).toBe(2);
  });

  it('serializable: a lookup of an absent unique value conflicts with its insert', async () => {
    let attempts = 0;
    const error = await db
      .transaction(
        async (tx) => {
          attempts++;
          const found = await tx.select().from(users).where(eq(users.email, 'new@x'));
          if (attempts === 1) await db.insert(users).values({ id: 7, email: 'new@x', status: 's' });
          await tx.insert(users).values({ id: 8, email: found.length === 0 ? 'other@x' : 'third@x', status: 's' });
        },
        { isolation: 'serializable', maxRetries: 0 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
  });

  it('for update with an indexed filter locks the rows found', async () => {
    await db.insert(users).values({ id: 1, email: 'a@x', status: 's', score: 0 });
    await Promise.all(
      Array.from({ length: 8 }, () =>
        db.transaction(async (tx) => {
          const [u] = await tx.select().from(users).where(eq(users.email, 'a@x')).for('update');
          await tx.update(users).set({ score: u!.score + 1 }).where(eq(users.id, 1));
        }),
      ),
    );
    const [u] = await db.select().from(users).where(eq(users.email, 'a@x'));
    expect(u?.score).toBe(8);
  });

  it('a write made while the entries are brought up to date for a read still moves its entries', async () => {
    await db.insert(users).values([
      { id: 1, email: 'one@x', status: 's', score: 0 },
      { id: 2, email: 'TWO@X', status: 's', score: 0 },
    ]);
    await db.transaction(async (tx) => {
      await tx.update(users).set({ score: sql`${users.score} + 1` }).where(eq(users.id, 1)); // its before-image is read later
      await Promise.all([
        tx.select().from(users).where(eq(users.status, 's')), // brings the entries up to date, reading row 1's image
        tx.update(users).set({ email: sql`lower(${users.email})` }).where(eq(users.id, 2)),
      ]);
    });
    // Row 2's old entry is gone: its old email is free again, and the new one finds row 2.
    await db.insert(users).values({ id: 3, email: 'TWO@X', status: 's', score: 0 });
    expect((await db.select().from(users).where(eq(users.email, 'two@x'))).map((u) => u.id)).toEqual([2]);
  });

  it('for update with an indexed filter finds a row that started matching after the transaction began', async () => {
    await db.insert(users).values({ id: 1, email: 'a@x', status: 'done', score: 0 });
    const found = await db.transaction(
      async (tx) => {
        await tx.select().from(users).where(eq(users.id, 99)); // the snapshot is taken
        await db.update(users).set({ status: 'pending' }).where(eq(users.id, 1));
        return tx.select().from(users).where(eq(users.status, 'pending')).for('update');
      },
      { maxRetries: 0 },
    );
    expect(found.map((u) => u.id)).toEqual([1]);
  });
});

describe('fencing writers', () => {
  it('a writer whose schema lacks an index of the table is fenced with SchemaVersionError, even after it migrates', async () => {
    const v1 = pgTable('fenced', { id: integer().primaryKey(), name: text().notNull() });
    const v2 = pgTable('fenced', { id: integer().primaryKey(), name: text().notNull() }, (t) => [uniqueIndex('fenced_name_idx').on(t.name)]);
    const old = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { fenced: v1 }, maxRetries: 3 });
    const upgraded = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { fenced: v2 } });
    try {
      await old.migrate();
      await upgraded.migrate();
      const refused = await old.insert(v1).values({ id: 1, name: 'x' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SchemaVersionError);
      expect((refused as Error).message).toMatch(/fenced_name_idx__idx/);
      await old.migrate(); // an old client's migrate() does not lift the fence
      await expect(old.insert(v1).values({ id: 1, name: 'x' })).rejects.toBeInstanceOf(SchemaVersionError);
      await upgraded.insert(v2).values({ id: 1, name: 'x' });
      await expect(upgraded.insert(v2).values({ id: 2, name: 'x' })).rejects.toBeInstanceOf(UniqueViolationError);
      expect(await old.select().from(v1)).toEqual([{ id: 1, name: 'x' }]); // reading is never fenced
    } finally {
      await Promise.all([old.close(), upgraded.close()]);
    }
  });
});
