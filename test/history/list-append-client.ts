/**
 * A list-append client process, for histories with clients killed mid-commit.
 * Run from dist/: `node dist/test/history/list-append-client.js '<json>'`.
 * Writes one JSON line per event to stdout:
 *   {"committing": txn}  the callback returned, commit starts (in doubt from here)
 *   {"done": txn}        the transaction's outcome is known
 * A parent that SIGKILLs it counts every "committing" without "done" as info.
 */
import { percolator } from '../../src/index.js';
import type { Txn } from './history.js';
import { listSchema, runListAppendWorkload, type WorkloadOptions } from './list-append-workload.js';

export interface ListAppendClientArgs {
  oracle: string[];
  shards: string[];
  lockTtlMs: number;
  workload: Omit<WorkloadOptions, 'onTxn' | 'onCommitting' | 'random'>;
}

/**
 * Resolves once the line is in the pipe: a pipe's writes are asynchronous once
 * it is full, and a SIGKILL loses what is still buffered in this process, so a
 * commit must not start before its "committing" line has left.
 */
const emit = (event: { committing: Txn } | { done: Txn }): Promise<void> =>
  new Promise((resolve) => process.stdout.write(`${JSON.stringify(event)}\n`, () => resolve()));

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as ListAppendClientArgs;
  const db = await percolator({ oracle: args.oracle, shards: args.shards, schema: listSchema, lockTtlMs: args.lockTtlMs });
  await runListAppendWorkload(db, {
    ...args.workload,
    onCommitting: (txn) => emit({ committing: txn }),
    onTxn: (txn) => void emit({ done: txn }),
  });
  await db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
