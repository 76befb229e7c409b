/**
 * A client process for crash tests: runs one transaction that moves money
 * between the given accounts and SIGKILLs itself at the named commit hook.
 * Run from dist/ (`node dist/test/support/crash-client.js '<json>'`).
 * Prints `{"committed": "<commitTs>"}` if it survives.
 */
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import { accountsMeta, bankTables } from './bank-schema.js';
import { timestampSourceFromSpec, type TimestampSourceSpec } from './test-cluster.js';

export interface CrashClientArgs {
  shards: string[];
  timestampSpec: TimestampSourceSpec;
  hook: keyof CommitHooks;
  lockTtlMs: number;
  /** Account ids: the first pays `amount` to each of the others. */
  accounts: number[];
  amount: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as CrashClientArgs;
  const tso = await timestampSourceFromSpec(args.timestampSpec);
  const die = (): void => {
    process.kill(process.pid, 'SIGKILL');
  };
  const engine = createTransactionEngine({
    shards: args.shards,
    timestampSource: tso,
    lockTtlMs: args.lockTtlMs,
    hooks: { [args.hook]: die },
  });
  engine.register(bankTables);
  const tx = await engine.begin();
  const rows = await tx.getMany(accountsMeta, args.accounts.map((id) => [id]));
  const balance = (id: number) => rows.find((r) => r.id === id)!.balance as number;
  const [payer, ...payees] = args.accounts;
  tx.put(accountsMeta, [
    { id: payer, balance: balance(payer!) - args.amount * payees.length, owner: `crash-${args.hook}` },
    ...payees.map((id) => ({ id, balance: balance(id) + args.amount, owner: `crash-${args.hook}` })),
  ]);
  const { commitTs } = await tx.commit();
  await engine.close();
  await tso.close();
  process.stdout.write(`${JSON.stringify({ committed: String(commitTs) })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
