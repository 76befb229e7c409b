/**
 * A client process for crash tests: runs one transaction that moves money
 * between the given accounts and SIGKILLs itself at the named commit hook.
 * Run from dist/ (`node dist/test/support/crash-client.js '<json>'`).
 * Prints `{"committed": "<commitTs>"}` if it survives.
 */
import { accountsMeta, bankTables } from './bank-schema.js';
import { runCrashingTransaction, type CrashingTransactionArgs } from './crashing-transaction.js';

export interface CrashClientArgs extends CrashingTransactionArgs {
  /** Account ids: the first pays `amount` to each of the others. */
  accounts: number[];
  amount: number;
}

runCrashingTransaction<CrashClientArgs>(bankTables, async (tx, args) => {
  const rows = await tx.getMany(accountsMeta, args.accounts.map((id) => [id]));
  const balance = (id: number) => rows.find((r) => r.id === id)!.balance as number;
  const [payer, ...payees] = args.accounts;
  tx.put(accountsMeta, [
    { id: payer, balance: balance(payer!) - args.amount * payees.length, owner: `crash-${args.hook}` },
    ...payees.map((id) => ({ id, balance: balance(id) + args.amount, owner: `crash-${args.hook}` })),
  ]);
});
