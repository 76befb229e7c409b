import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, inArray } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import type { PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, SchemaError, SchemaVersionError, type Database } from '../../src/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

// Transfers run at both isolation levels over three shards while migrate()
// adds a column and then drops another. Each worker is "deployed" with the
// oldest declaration and moves to the next one when its writes are fenced
// (a rolling deploy after each migrate); workers of the second and third
// declarations count every transfer in the added column. A checker then
// finds every balance, every count and the ledger in agreement.

const accountsV1 = pgTable('accounts', { id: integer().primaryKey(), balance: integer().notNull(), memo: text() });
const accountsV2 = pgTable('accounts', { id: integer().primaryKey(), balance: integer().notNull(), memo: text(), touches: integer().notNull().default(0) });
const accountsV3 = pgTable('accounts', { id: integer().primaryKey(), balance: integer().notNull(), touches: integer().notNull().default(0) });
const moves = pgTable('moves', { id: text().primaryKey(), source: integer().notNull(), target: integer().notNull(), amount: integer().notNull(), counted: integer().notNull() });

const ACCOUNTS = 24;
const INITIAL = 1000;
const WORKERS = 6;

type AnyDb = Database<Record<string, PgTable>>;
let cluster: TestCluster;
const open: AnyDb[] = [];

async function connect(accounts: PgTable): Promise<AnyDb> {
  const db = (await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { accounts, moves }, maxRetries: 100 })) as unknown as AnyDb;
  open.push(db);
  return db;
}

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3 });
});

afterAll(async () => {
  await Promise.all(open.map((db) => db.close()));
  await cluster?.destroy();
});

/** One declaration of the accounts table, deployed as a client. */
interface Generation {
  readonly db: AnyDb;
  readonly accounts: typeof accountsV2; // the columns each generation has are checked at run time
  readonly counts: boolean;
}

describe('online schema changes under load', () => {
  it('writers keep committing while a column is added and another dropped; old writers are fenced, old readers read; nothing is lost', async () => {
    const generations: Generation[] = [
      { db: await connect(accountsV1), accounts: accountsV1 as unknown as typeof accountsV2, counts: false },
      { db: await connect(accountsV2), accounts: accountsV2, counts: true },
      { db: await connect(accountsV3), accounts: accountsV3 as unknown as typeof accountsV2, counts: true },
    ];
    await generations[0]!.db.migrate();
    await generations[0]!.db.insert(accountsV1).values(Array.from({ length: ACCOUNTS }, (_, id) => ({ id, balance: INITIAL, memo: `m${id}` })));
    // Each later generation's migrate(), once started: fenced writers wait for it, then move on.
    const migrations: Promise<void>[] = [];
    let stopped = false;
    const committed: number[] = Array.from({ length: WORKERS }, () => 0);
    const fencedAt: number[] = [];

    async function transfer(g: Generation, isolation: 'snapshot' | 'serializable', n: number): Promise<void> {
      const a = n % ACCOUNTS;
      const b = (n * 7 + 3) % ACCOUNTS === a ? (a + 1) % ACCOUNTS : (n * 7 + 3) % ACCOUNTS;
      const amount = 1 + (n % 9);
      const t = g.accounts;
      await g.db.transaction(
        async (tx) => {
          const rows = await tx.select().from(t).where(inArray(t.id, [a, b]));
          const byId = new Map(rows.map((r) => [r.id, r]));
          const bump = (id: number) => (g.counts ? { touches: byId.get(id)!.touches + 1 } : {});
          await tx.update(t).set({ balance: byId.get(a)!.balance - amount, ...bump(a) }).where(eq(t.id, a));
          await tx.update(t).set({ balance: byId.get(b)!.balance + amount, ...bump(b) }).where(eq(t.id, b));
          await tx.insert(moves).values({ id: randomUUID(), source: a, target: b, amount, counted: g.counts ? 1 : 0 });
        },
        { isolation },
      );
    }

    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      let generation = 0;
      const isolation = w % 2 === 0 ? 'snapshot' : 'serializable';
      for (let n = w; !stopped; n += WORKERS) {
        try {
          await transfer(generations[generation]!, isolation, n);
          committed[w]!++;
        } catch (error) {
          // Fenced (or its reads name a dropped column): the next declaration is rolled out, once migrated.
          const schemaChanged = error instanceof SchemaVersionError || error instanceof SchemaError;
          const next = migrations[generation + 1];
          if (!schemaChanged || !next) throw error;
          await next;
          fencedAt.push(generation);
          generation++;
        }
      }
    });

    await sleep(400);
    await (migrations[1] = generations[1]!.db.migrate()); // adds touches
    await sleep(600);
    // A client left on the first declaration: its writes are fenced, its reads work.
    const old = generations[0]!.db;
    const fenced = await old.update(accountsV1).set({ memo: 'x' }).where(eq(accountsV1.id, 0)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(fenced).toBeInstanceOf(SchemaVersionError);
    expect(fenced).toMatchObject({ table: 'accounts', clientVersion: 1, storedVersion: 2 });
    expect(await old.select().from(accountsV1)).toHaveLength(ACCOUNTS);
    await (migrations[2] = generations[2]!.db.migrate()); // drops memo
    await sleep(600);
    stopped = true;
    await Promise.all(workers);

    // Every worker moved through the declarations, and wrote with each of the later ones.
    expect(fencedAt.filter((g) => g === 0)).toHaveLength(WORKERS);
    expect(fencedAt.filter((g) => g === 1)).toHaveLength(WORKERS);
    expect(committed.every((c) => c > 0)).toBe(true);

    // The checker, at one snapshot.
    const { db } = generations[2]!;
    const [rows, ledger] = await db.transaction(async (tx) => [await tx.select().from(accountsV3), await tx.select().from(moves)]);
    expect(ledger).toHaveLength(committed.reduce((x, y) => x + y, 0));
    expect(ledger.some((m) => m.counted === 0) && ledger.some((m) => m.counted === 1)).toBe(true);
    expect(rows.reduce((sum, r) => sum + r.balance, 0)).toBe(ACCOUNTS * INITIAL);
    for (const row of rows) {
      const mine = ledger.filter((m) => m.source === row.id || m.target === row.id);
      const balance = INITIAL + mine.reduce((sum, m) => sum + (m.target === row.id ? m.amount : -m.amount), 0);
      expect({ id: row.id, balance: row.balance, touches: row.touches }).toEqual({ id: row.id, balance, touches: mine.filter((m) => m.counted === 1).length });
    }
  });
});
