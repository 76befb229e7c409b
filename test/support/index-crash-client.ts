/**
 * A client process for index crash tests: runs one engine transaction that
 * inserts a row, moves existing rows to new emails and statuses and deletes
 * one (each a write of index entries too), and SIGKILLs itself at the named
 * commit hook. Run from dist/ (`node dist/test/support/index-crash-client.js '<json>'`).
 * Prints `{"committed": "<commitTs>"}` if it survives.
 */
import { runCrashingTransaction, type CrashingTransactionArgs } from './crashing-transaction.js';
import { indexedUsersMeta } from './users-schema.js';

export interface IndexCrashClientArgs extends CrashingTransactionArgs {
  /** Rows to move to `email`/`status` (given without their old image: the engine reads it). */
  moves: { id: number; email: string; status: string }[];
  insert: { id: number; email: string; status: string };
  deleteId: number;
}

runCrashingTransaction<IndexCrashClientArgs>([indexedUsersMeta], async (tx, args) => {
  await tx.insert(indexedUsersMeta, [{ ...args.insert, score: 0 }]);
  tx.put(indexedUsersMeta, args.moves.map((m) => ({ ...m, score: 1 })));
  tx.delete(indexedUsersMeta, [[args.deleteId]]);
});
