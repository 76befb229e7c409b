import { setTimeout as sleep } from 'node:timers/promises';
import { inArray } from 'drizzle-orm';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { isRetryable } from '../../src/errors.js';
import { accounts, accountsMeta, transfersMeta } from './bank-schema.js';

export const BANK_ACCOUNTS = 12;
export const BANK_INITIAL = 1000;

export async function seedBank(engine: TransactionEngine, count = BANK_ACCOUNTS): Promise<void> {
  const tx = await engine.begin();
  tx.put(accountsMeta, Array.from({ length: count }, (_, id) => ({ id, balance: BANK_INITIAL, owner: null })));
  await tx.commit();
}

/** Moves `amount` from one account to another in one transaction (read both, write both). */
export async function transfer(engine: TransactionEngine, from: number, to: number, amount: number): Promise<void> {
  const tx = await engine.begin();
  const rows = await tx.select(accountsMeta, { where: inArray(accounts.id, [from, to]) });
  const balance = (id: number) => rows.find((r) => r.id === id)!.balance as number;
  tx.put(accountsMeta, [
    { id: from, balance: balance(from) - amount, owner: null },
    { id: to, balance: balance(to) + amount, owner: null },
  ]);
  await tx.commit();
}

/** Sum of all balances in one snapshot. */
export async function bankTotal(engine: TransactionEngine): Promise<{ total: number; count: number }> {
  const tx = await engine.begin();
  const rows = await tx.select(accountsMeta);
  await tx.commit();
  return { total: rows.reduce((s, r) => s + (r.balance as number), 0), count: rows.length };
}

/** Runs `work` until it succeeds or fails with a non-retryable error (bounded attempts). */
export async function withRetries<T>(work: () => Promise<T>, attempts = 50): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryable(error) || i >= attempts) throw error;
      await sleep(Math.random() * Math.min(50, 2 ** i));
    }
  }
}

/** A transfer that also inserts a ledger row `ledgerId`: the row exists iff the transfer committed. */
export async function transferWithLedger(engine: TransactionEngine, ledgerId: string, from: number, to: number, amount: number): Promise<void> {
  const tx = await engine.begin();
  const rows = await tx.getMany(accountsMeta, [[from], [to]]);
  const balance = (id: number) => rows.find((r) => r.id === id)!.balance as number;
  tx.put(accountsMeta, [
    { id: from, balance: balance(from) - amount, owner: null },
    { id: to, balance: balance(to) + amount, owner: null },
  ]);
  await tx.insert(transfersMeta, [{ id: ledgerId, fromId: from, toId: to, amount }]);
  await tx.commit();
}
