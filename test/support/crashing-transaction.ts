/**
 * The frame of a crash-test client process: one engine transaction whose
 * process SIGKILLs itself at the named commit hook. Prints
 * `{"committed": "<commitTs>"}` if it survives the commit.
 */
import type { TableMeta } from '../../src/schema/table-meta.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import type { EngineTransaction } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { timestampSourceFromSpec, type TimestampSourceSpec } from './test-cluster.js';

export interface CrashingTransactionArgs {
  shards: string[];
  timestampSpec: TimestampSourceSpec;
  hook: keyof CommitHooks;
  lockTtlMs: number;
}

/** Runs `write` in one transaction of an engine over `tables`, commits it, and dies at `args.hook` on the way. */
export function runCrashingTransaction<A extends CrashingTransactionArgs>(tables: readonly TableMeta[], write: (tx: EngineTransaction, args: A) => Promise<void>): void {
  const main = async (): Promise<void> => {
    const args = JSON.parse(process.argv[2]!) as A;
    const tso = await timestampSourceFromSpec(args.timestampSpec);
    const engine = createTransactionEngine({
      shards: args.shards,
      timestampSource: tso,
      lockTtlMs: args.lockTtlMs,
      gc: false,
      hooks: { [args.hook]: () => process.kill(process.pid, 'SIGKILL') },
    });
    engine.register(tables);
    const tx = await engine.begin();
    await write(tx, args);
    const { commitTs } = await tx.commit();
    await engine.close();
    await tso.close();
    process.stdout.write(`${JSON.stringify({ committed: String(commitTs) })}\n`);
  };
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
