/**
 * A client process for index crash tests: runs one engine transaction that
 * inserts a row, moves existing rows to new emails and statuses and deletes
 * one (each a write of index entries too), and SIGKILLs itself at the named
 * commit hook. Run from dist/ (`node dist/test/support/index-crash-client.js '<json>'`).
 * Prints `{"committed": "<commitTs>"}` if it survives.
 */
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { timestampSourceFromSpec, type TimestampSourceSpec } from './test-cluster.js';
import { indexedUsersMeta } from './users-schema.js';

export interface IndexCrashClientArgs {
  shards: string[];
  timestampSpec: TimestampSourceSpec;
  hook: keyof CommitHooks;
  lockTtlMs: number;
  /** Rows to move to `email`/`status` (given without their old image: the engine reads it). */
  moves: { id: number; email: string; status: string }[];
  insert: { id: number; email: string; status: string };
  deleteId: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as IndexCrashClientArgs;
  const tso = await timestampSourceFromSpec(args.timestampSpec);
  const engine = createTransactionEngine({
    shards: args.shards,
    timestampSource: tso,
    lockTtlMs: args.lockTtlMs,
    gc: false,
    hooks: { [args.hook]: () => process.kill(process.pid, 'SIGKILL') },
  });
  engine.register([indexedUsersMeta]);
  const tx = await engine.begin();
  await tx.insert(indexedUsersMeta, [{ ...args.insert, score: 0 }]);
  tx.put(indexedUsersMeta, args.moves.map((m) => ({ ...m, score: 1 })));
  tx.delete(indexedUsersMeta, [[args.deleteId]]);
  const { commitTs } = await tx.commit();
  await engine.close();
  await tso.close();
  process.stdout.write(`${JSON.stringify({ committed: String(commitTs) })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
