/**
 * A client process for crash tests of pessimistic locks: begins a
 * transaction, takes `for update` locks on the given accounts, prints
 * `locked` and then waits to be SIGKILLed (its heartbeat stops with it).
 * Run from dist/ (`node dist/test/support/lock-holder.js '<json>'`).
 */
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { accountsMeta, bankTables } from './bank-schema.js';
import { timestampSourceFromSpec, type TimestampSourceSpec } from './test-cluster.js';

export interface LockHolderArgs {
  shards: string[];
  timestampSpec: TimestampSourceSpec;
  lockTtlMs: number;
  accounts: number[];
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as LockHolderArgs;
  const tso = await timestampSourceFromSpec(args.timestampSpec);
  const engine = createTransactionEngine({ shards: args.shards, timestampSource: tso, lockTtlMs: args.lockTtlMs });
  engine.register(bankTables);
  const tx = await engine.begin();
  await tx.getMany(accountsMeta, args.accounts.map((id) => [id]), { lock: { strength: 'update' } });
  process.stdout.write('locked\n');
  await new Promise(() => {});
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
