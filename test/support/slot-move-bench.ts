/**
 * Slot moves, measured: N accounts on 2 throwaway shards (fsync off), C
 * clients running two-account transfers all along; half of shard 0's slots
 * move to shard 1 (unthrottled, then back throttled to R rows per second).
 * Prints the rows copied and the copy speed of each move, and the
 * transfers' throughput and latency (p50, p99) before and during each move.
 *
 *   npm run build && node dist/test/support/slot-move-bench.js [N=100000] [C=8] [R=5000]
 */
import { eq, inArray } from 'drizzle-orm';
import { execFileSync } from 'node:child_process';
import { percolator } from '../../src/index.js';
import { SLOT_COUNT } from '../../src/shard/placement-map.js';
import { moveSlots, type MoveOptions } from '../../src/txn/slot-move.js';
import { accounts } from './bank-schema.js';
import { startTestCluster } from './test-cluster.js';

const ROWS = Number(process.argv[2] ?? 100_000);
const CLIENTS = Number(process.argv[3] ?? 8);
const RATE = Number(process.argv[4] ?? 5000);
const BASELINE_MS = 5000;

const cluster = await startTestCluster({ shards: 2 });
const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { accounts }, maxRetries: 100, gc: false });

/** Transfers by CLIENTS loops until `until` settles: per-transaction latencies (ms). */
async function transfersDuring(until: Promise<unknown>): Promise<{ latencies: number[]; ms: number }> {
  let stop = false;
  void until.finally(() => (stop = true));
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (!stop) {
        const from = Math.floor(Math.random() * ROWS);
        const to = (from + 1 + Math.floor(Math.random() * (ROWS - 1))) % ROWS;
        const at = performance.now();
        await db.transaction(async (tx) => {
          const rows = await tx.select().from(accounts).where(inArray(accounts.id, [from, to]));
          for (const row of rows) await tx.update(accounts).set({ balance: row.balance + (row.id === from ? -1 : 1) }).where(eq(accounts.id, row.id));
        });
        latencies.push(performance.now() - at);
      }
    }),
  );
  return { latencies, ms: performance.now() - started };
}

function describe(name: string, run: { latencies: number[]; ms: number }): string {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return `${name.padEnd(34)} ${((run.latencies.length / run.ms) * 1000).toFixed(0).padStart(5)} txn/s  p50 ${at(0.5)} ms  p99 ${at(0.99)} ms  (${run.latencies.length} txns)`;
}

async function measuredMove(name: string, from: number, to: number, slots: number[], options: MoveOptions): Promise<void> {
  let rows = 0;
  const started = performance.now();
  const move = moveSlots(db.slotMoves, { from, to, slots }, { ...options, onProgress: (p) => (rows = p.rowsCopied) });
  const during = await transfersDuring(move);
  await move;
  const seconds = (performance.now() - started) / 1000;
  console.log(`${name}: ${slots.length} slots, ${rows} rows copied in ${seconds.toFixed(2)} s = ${(rows / seconds).toFixed(0)} rows/s`);
  console.log(describe(`  transfers during ${name}`, during));
}

try {
  await db.migrate();
  for (let i = 0; i < ROWS; i += 5000) await db.insert(accounts).values(Array.from({ length: Math.min(5000, ROWS - i) }, (_, k) => ({ id: i + k, balance: 1000 })));
  const slots = Array.from({ length: SLOT_COUNT }, (_, s) => s).filter((s) => db.placement.map.shardOfSlot(s) === 0 && s % 4 === 0);
  console.log(`${ROWS} accounts on 2 shards, ${CLIENTS} clients of transfers; load average ${execFileSync('uptime').toString().trim().replace(/.*load average: /, '')}`);
  console.log(describe('transfers, no move', await transfersDuring(new Promise((r) => setTimeout(r, BASELINE_MS)))));
  await measuredMove('move 0 -> 1 unthrottled', 0, 1, slots, {});
  console.log(describe('transfers, no move', await transfersDuring(new Promise((r) => setTimeout(r, BASELINE_MS)))));
  await measuredMove(`move 1 -> 0 at ${RATE} rows/s`, 1, 0, slots, { maxRowsPerSecond: RATE });
  console.log(`load average after: ${execFileSync('uptime').toString().trim().replace(/.*load average: /, '')}`);
} finally {
  await db.close();
  await cluster.destroy();
}
