/**
 * A slot mover in its own process, for killed-mover tests: runs one
 * moveSlots and, at step `pauseAt`, prints `{"paused": step}` and waits
 * (the parent SIGKILLs it there). Prints `{"done": version}` if it
 * finishes. Run from dist/ (`node dist/test/support/slot-mover-process.js '<json>'`).
 */
import { percolator } from '../../src/index.js';
import { moveSlots, type MoveStep } from '../../src/txn/slot-move.js';
import { accounts, transfers } from './bank-schema.js';

export interface SlotMoverArgs {
  oracle: string[];
  from: number;
  to: number;
  slots: number[];
  pauseAt?: MoveStep;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as SlotMoverArgs;
  const db = await percolator({ oracle: args.oracle, schema: { accounts, transfers }, gc: false });
  const map = await moveSlots(db.slotMoves, args, {
    pageRows: 50,
    atStep: async (step) => {
      if (step !== args.pauseAt) return;
      await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify({ paused: step })}\n`, () => resolve()));
      await new Promise(() => {});
    },
  });
  process.stdout.write(`${JSON.stringify({ done: map.version.toString() })}\n`);
  await db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
