import { eq, inArray } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Database } from '../../src/client/database.js';
import { CommitUndeterminedError, isRetryable } from '../../src/errors.js';
import { connectToShard } from '../../src/shard/shard-primary.js';
import { accounts, transfers } from './bank-schema.js';

/**
 * Bank transfers with a ledger through the client, for fault tests: every
 * transfer also inserts a ledger row, so after the faults the ledger shows
 * which commits survived, and each account's balance must equal what the
 * ledger moved.
 */
export const bankSchema = { accounts, transfers };
export type BankDb = Database<typeof bankSchema>;
export const LEDGER_INITIAL = 1000;

export async function seedLedgerBank(db: BankDb, count: number): Promise<void> {
  await db.insert(accounts).values(Array.from({ length: count }, (_, id) => ({ id, balance: LEDGER_INITIAL })));
}

/** What a run of transfers saw: acknowledged, undetermined, and errors by code. */
export interface LedgerRun {
  readonly acked: Array<{ id: string; at: number; from: number; to: number }>;
  readonly undetermined: Set<string>;
  readonly errors: Map<string, number>;
}

export function newLedgerRun(): LedgerRun {
  return { acked: [], undetermined: new Set(), errors: new Map() };
}

/**
 * A ledger transfer loop on each of `clients` until `work` settles; then
 * the loops end and the clients are closed. Returns each loop's run.
 */
export async function ledgerTransfersDuring(clients: readonly BankDb[], label: string, accountCount: number, work: () => Promise<void>): Promise<LedgerRun[]> {
  const runs = clients.map(() => newLedgerRun());
  // Transfer ids must be unique across every call on one ledger.
  const tag = `${label}-${Math.random().toString(36).slice(2, 8)}`;
  let stop = false;
  const loops = clients.map(async (client, c) => {
    for (let i = 0; !stop; i++) await ledgerTransfer(client, runs[c]!, `${tag}-${c}-${i}`, accountCount);
  });
  try {
    await work();
  } finally {
    stop = true;
    await Promise.all(loops);
    await Promise.all(clients.map((client) => client.close()));
  }
  return runs;
}

/**
 * One transfer of a random amount between two random accounts, recorded in
 * `run`. Only typed errors are accepted: an undetermined commit may or may
 * not be in the ledger, a retryable one is not; anything else is thrown.
 */
export async function ledgerTransfer(db: BankDb, run: LedgerRun, id: string, accountCount: number): Promise<void> {
  const from = Math.floor(Math.random() * accountCount);
  const to = (from + 1 + Math.floor(Math.random() * (accountCount - 1))) % accountCount;
  const amount = 1 + Math.floor(Math.random() * 50);
  try {
    await db.transaction(async (tx) => {
      const rows = await tx.select().from(accounts).where(inArray(accounts.id, [from, to]));
      const balance = (account: number) => rows.find((r) => r.id === account)!.balance;
      await tx.update(accounts).set({ balance: balance(from) - amount }).where(eq(accounts.id, from));
      await tx.update(accounts).set({ balance: balance(to) + amount }).where(eq(accounts.id, to));
      await tx.insert(transfers).values({ id, fromId: from, toId: to, amount });
    });
    run.acked.push({ id, at: Date.now(), from, to });
  } catch (error) {
    if (error instanceof CommitUndeterminedError) run.undetermined.add(id);
    else if (!isRetryable(error)) throw error;
    const code = (error as { code: string }).code;
    run.errors.set(code, (run.errors.get(code) ?? 0) + 1);
  }
}

/** Accounts and ledger in one snapshot. */
export async function readBank(db: BankDb) {
  return db.transaction(async (tx) => ({ accounts: await tx.select().from(accounts), ledger: await tx.select().from(transfers) }));
}

/** Every balance is the initial one plus what the ledger moved; the total never changes. */
export function checkBank({ accounts: rows, ledger }: Awaited<ReturnType<typeof readBank>>, accountCount: number): void {
  expect(rows).toHaveLength(accountCount);
  expect(rows.reduce((sum, a) => sum + a.balance, 0)).toBe(accountCount * LEDGER_INITIAL);
  const expected = new Map(rows.map((a) => [a.id, LEDGER_INITIAL]));
  for (const t of ledger) {
    expected.set(t.fromId, expected.get(t.fromId)! - t.amount);
    expected.set(t.toId, expected.get(t.toId)! + t.amount);
  }
  for (const a of rows) expect(a.balance, `account ${a.id} against its ledger`).toBe(expected.get(a.id));
}

/** Every acknowledged transfer is in the ledger, and nothing is there but acknowledged and undetermined ones. */
export function checkLedger(bank: Awaited<ReturnType<typeof readBank>>, runs: LedgerRun[]): void {
  const ledgerIds = new Set(bank.ledger.map((t) => t.id));
  const acked = runs.flatMap((r) => r.acked.map((a) => a.id));
  expect(acked.filter((id) => !ledgerIds.has(id)), 'acknowledged transfers missing from the ledger').toEqual([]);
  const known = new Set([...acked, ...runs.flatMap((r) => [...r.undetermined])]);
  expect(bank.ledger.filter((t) => !known.has(t.id)).map((t) => t.id), 'ledger rows of transfers that failed').toEqual([]);
}

/** Locks left in the storage of both tables on one shard, asked of whichever of its hosts is the primary now. */
export async function locksOn(url: string): Promise<number> {
  const client = await connectToShard(url, { connectionTimeoutMillis: 5000 });
  try {
    const { rows } = await client.query<{ n: string }>('select (select count(*) from accounts__locks) + (select count(*) from transfers__locks) as n');
    return Number(rows[0]!.n);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Once their TTL has run out, readers resolve the locks that transactions
 * cut off by a fault left: reads the bank (checking it each time) until no
 * shard holds a lock, or `timeoutMs`. Returns the locks left.
 */
export async function resolveAllLocks(db: BankDb, shardUrls: string[], accountCount: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    checkBank(await readBank(db), accountCount);
    const left = (await Promise.all(shardUrls.map(locksOn))).reduce((a, b) => a + b, 0);
    if (left === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}
