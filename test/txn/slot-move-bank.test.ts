import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator } from '../../src/index.js';
import { abortMove, MOVE_STEPS, moveSlots, type MoveStep } from '../../src/txn/slot-move.js';
import { bankSchema, checkBank, checkLedger, ledgerTransfersDuring, readBank, seedLedgerBank, type BankDb, type LedgerRun } from '../support/bank-ledger.js';
import { accountsMeta } from '../support/bank-schema.js';
import type { SlotMoverArgs } from '../support/slot-mover-process.js';
import { dropMovedRows, expectOneOwnerEach, slotsOfRows, slotsOn } from '../support/slot-moves.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const ACCOUNTS = 40;
const CLIENTS = 12;

/**
 * Bank transfers with a ledger at 12 clients while the accounts' slots (and
 * with them part of the ledger) move back and forth between two shards, in
 * both isolation levels: totals and every balance against the ledger stay
 * intact, every acknowledged transfer is in the ledger, and no transaction
 * fails for the workload (retries are internal). Then the mover is killed
 * (SIGKILL, in its own process) after each of its steps once, and run
 * again: it resumes, or (before the switch) is rolled back; every slot has
 * exactly one owner after each.
 */
describe('bank transfers while slots move', () => {
  let cluster: TestCluster;
  let db: BankDb;
  let accountSlots: number[];
  /** The slots moved: the accounts' and as many others (ledger rows). */
  let moved: number[];
  /** Every test's transfer runs: the ledger holds them all. */
  const allRuns: LedgerRun[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 2 });
    // The mover's client collects garbage often: a slot moved back to a shard needs that shard's old rows of it dropped, once the safe point passes the earlier switch.
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: bankSchema, gc: { lifetimeMs: 4000, intervalMs: 300 } });
    await db.migrate();
    await seedLedgerBank(db, ACCOUNTS);
    accountSlots = slotsOfRows(accountsMeta, 'id', Array.from({ length: ACCOUNTS }, (_, i) => i));
    moved = [...new Set([...accountSlots, ...Array.from({ length: accountSlots.length }, (_, i) => i * 97)])].sort((a, b) => a - b);
  });
  afterAll(async () => {
    await db?.close();
    await cluster?.destroy();
  });

  /**
   * Runs CLIENTS transfer loops (each on its own client) until `work` settles; returns their runs.
   * 40 hot accounts: 10 retries (the default) are now and then not enough for a write conflict
   * among 12 clients, moves or not; 30 keep contention out of the "no failure" check.
   */
  async function underTransfers(isolation: 'snapshot' | 'serializable', work: () => Promise<void>): Promise<LedgerRun[]> {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => percolator({ oracle: [cluster.oracleAddress], schema: bankSchema, isolation, gc: false, maxRetries: 30 })));
    const runs = await ledgerTransfersDuring(clients, isolation, ACCOUNTS, work);
    allRuns.push(...runs);
    return runs;
  }

  /** Every slot of `moved` from wherever it is to the other shard. */
  async function moveAll(): Promise<void> {
    for (const from of [0, 1]) {
      const slots = slotsOn(db.placement, from, moved);
      if (slots.length > 0) await moveSlots(db.slotMoves, { from, to: 1 - from, slots }, { pageRows: 25 });
    }
  }

  it.each(['snapshot', 'serializable'] as const)('%s: slots move back and forth four times under 12 clients; the bank and its ledger stay intact', async (isolation) => {
    const runs = await underTransfers(isolation, async () => {
      for (let round = 0; round < 4; round++) {
        await moveAll();
        await expectOneOwnerEach(cluster.shardUrls, db.placement, moved);
      }
    });
    const acked = runs.reduce((n, r) => n + r.acked.length, 0);
    const errors = Object.fromEntries(runs.flatMap((r) => [...r.errors]));
    console.info(`${isolation}: ${acked} transfers acknowledged during 4 moves of ${moved.length} slots; errors ${JSON.stringify(errors)}`);
    expect(acked).toBeGreaterThan(CLIENTS);
    expect(errors).toEqual({});
    await dropMovedRows(db, cluster.shardUrls);
    const bank = await readBank(db);
    checkBank(bank, ACCOUNTS);
    checkLedger(bank, allRuns);
  }, 240_000);

  it('a mover killed after each of its steps leaves one owner per slot; run again it resumes, or rolls back', async () => {
    const outcomes: string[] = [];
    const runs = await underTransfers('snapshot', async () => {
      for (const [i, step] of MOVE_STEPS.entries()) {
        await db.placement.refresh();
        const from = db.placement.map.shardOfSlot(moved[0]!);
        const slots = slotsOn(db.placement, from, moved);
        const args: SlotMoverArgs = { oracle: [cluster.oracleAddress], from, to: 1 - from, slots, pauseAt: step };
        await killedAt(args, step);
        await expectOneOwnerEach(cluster.shardUrls, db.placement, moved);
        // Before the switch, every other killed move is rolled back; the rest are resumed.
        const switched = slots.every((slot) => db.placement.map.shardOfSlot(slot) === 1 - from);
        if (i % 2 === 1 && !switched) {
          expect(await abortMove(db.slotMoves, args)).toBe(true);
          outcomes.push(`${step}: rolled back`);
        } else {
          await moveSlots(db.slotMoves, args);
          outcomes.push(`${step}: resumed`);
        }
        await expectOneOwnerEach(cluster.shardUrls, db.placement, moved);
      }
    });
    console.info(outcomes.join('; '));
    expect(outcomes).toHaveLength(MOVE_STEPS.length);
    expect(Object.fromEntries(runs.flatMap((r) => [...r.errors]))).toEqual({});
    await dropMovedRows(db, cluster.shardUrls);
    const bank = await readBank(db);
    checkBank(bank, ACCOUNTS);
    checkLedger(bank, allRuns);
  }, 300_000);
});

/** Runs the mover in a child process until it reports `step`, then SIGKILLs it. */
async function killedAt(args: SlotMoverArgs, step: MoveStep): Promise<void> {
  const child = spawn(process.execPath, ['dist/test/support/slot-mover-process.js', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const event = JSON.parse(line) as { paused?: string; done?: string };
    if (event.paused === step) break;
    throw new Error(`mover reported ${line} before step ${step}`);
  }
  child.kill('SIGKILL');
  const code = await exited;
  if (code !== null) throw new Error(`mover exited with ${code} before step ${step}: ${stderr}`);
}
