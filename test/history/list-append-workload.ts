import { eq, inArray } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { CommitUndeterminedError, isRetryable, type Database, type IsolationLevel, type Transaction } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { connectToShard } from '../../src/shard/shard-primary.js';
import type { Op, Outcome, Txn } from './history.js';

/** Each row is one list: comma-separated values, oldest first. */
export const lists = pgTable('history_lists', {
  key: integer('key').primaryKey(),
  elements: text('elements').notNull(),
});
export const listSchema = { lists };
type ListDb = Database<typeof listSchema>;
type ListTx = Transaction<typeof listSchema>;

export interface WorkloadOptions {
  readonly isolation: IsolationLevel;
  /** The lists used: keyBase .. keyBase + keys - 1 (separate runs use separate lists). Few keys make transactions collide. */
  readonly keys: number;
  readonly keyBase: number;
  /** Concurrent clients on the one database object. */
  readonly workers: number;
  /** Transactions in total, across workers. */
  readonly txns: number;
  /** Checked before each transaction: true ends the run early (a run bounded by time). */
  readonly shouldStop?: () => boolean;
  readonly maxOpsPerTxn: number;
  /** Share of transactions whose appends read their list with `for update` (pessimistic locks); 0 by default. */
  readonly lockingReads?: number;
  /** Appended values start here (so that separate processes append disjoint values). */
  readonly firstValue: number;
  /** First transaction id. */
  readonly firstId: number;
  readonly random?: () => number;
  /** Called with every finished transaction (a child process streams them to its parent). */
  readonly onTxn?: (txn: Txn) => void;
  /**
   * Called just before a transaction starts to commit (so a killed process's last transaction is known to be in doubt);
   * the commit waits for what it returns (a child process's report must have left it before the commit starts).
   */
  readonly onCommitting?: (txn: Txn) => void | Promise<void>;
}

export interface WorkloadResult {
  readonly history: Txn[];
  /** Errors by constructor name, for the test's report. */
  readonly errors: Record<string, number>;
}

export function encodeList(values: readonly number[]): string {
  return values.join(',');
}

export function decodeList(elements: string): number[] {
  return elements === '' ? [] : elements.split(',').map(Number);
}

export function listKeys(options: { keys: number; keyBase: number }): number[] {
  return Array.from({ length: options.keys }, (_, k) => options.keyBase + k);
}

/** Creates the run's lists, empty (so appends are plain updates). */
export async function seedLists(db: ListDb, options: { keys: number; keyBase: number }): Promise<void> {
  await db.insert(lists).values(listKeys(options).map((key) => ({ key, elements: '' })));
}

/**
 * Elle's list-append workload: many concurrent random transactions, each a
 * few reads of whole lists and appends of fresh values, recording exactly
 * what each did and how it ended. An append reads the list first (the new
 * value is written as the whole list), and that read is recorded too.
 * Transactions are not retried: a retry would be a new transaction.
 */
export async function runListAppendWorkload(db: ListDb, options: WorkloadOptions): Promise<WorkloadResult> {
  const random = options.random ?? Math.random;
  const history: Txn[] = [];
  const errors: Record<string, number> = {};
  let nextValue = options.firstValue;
  let nextTxn = 0;

  const plan = (): { key: number; append: boolean }[] =>
    Array.from({ length: 1 + Math.floor(random() * options.maxOpsPerTxn) }, () => ({
      key: options.keyBase + Math.floor(random() * options.keys),
      append: random() < 0.5,
    }));

  const runOne = async (id: number): Promise<void> => {
    const ops: Op[] = [];
    const steps = plan();
    const locking = (options.lockingReads ?? 0) > 0 && random() < options.lockingReads!;
    let committing = false;
    let startTs: bigint | undefined;
    let outcome: Outcome;
    let failure = '';
    try {
      await db.transaction(
        async (tx) => {
          // The client runs the callback again after an internal refusal (a slot moved): only the last attempt committed.
          ops.length = 0;
          startTs = tx.startTs;
          for (const { key, append } of steps) {
            const current = await readList(tx, key, locking && append);
            ops.push({ type: 'read', key: String(key), value: current });
            if (!append) continue;
            const value = nextValue++;
            await tx.update(lists).set({ elements: encodeList([...current, value]) }).where(eq(lists.key, key));
            ops.push({ type: 'append', key: String(key), value });
          }
          committing = true;
          await options.onCommitting?.({ id, outcome: 'info', ops: [...ops] });
        },
        { isolation: options.isolation, maxRetries: 0 },
      );
      outcome = 'ok';
    } catch (error) {
      const name = error instanceof Error ? error.constructor.name : typeof error;
      errors[name] = (errors[name] ?? 0) + 1;
      failure = ` ${name}`;
      // Only a retryable error proves nothing was committed; anything else after commit began is in doubt.
      outcome = error instanceof CommitUndeterminedError || (committing && !isRetryable(error)) ? 'info' : 'fail';
    }
    const txn: Txn = { id, outcome, ops, note: `start ${startTs}${failure}` };
    history.push(txn);
    options.onTxn?.(txn);
  };

  await Promise.all(
    Array.from({ length: options.workers }, async () => {
      while (nextTxn < options.txns && !options.shouldStop?.()) {
        const id = options.firstId + nextTxn++;
        await runOne(id);
      }
    }),
  );
  return { history, errors };
}

/** The quiescent final read of every list (run after all clients stopped). */
export async function finalReadOfAllLists(db: ListDb, options: { keys: number; keyBase: number }, id: number): Promise<Txn> {
  const rows = await db.select().from(lists).where(inArray(lists.key, listKeys(options)));
  const ops: Op[] = rows.map((r) => ({ type: 'read', key: String(r.key), value: decodeList(r.elements) }));
  return { id, outcome: 'ok', ops, final: true };
}

async function readList(tx: ListTx, key: number, forUpdate = false): Promise<number[]> {
  const query = tx.select().from(lists).where(eq(lists.key, key));
  const [row] = forUpdate ? await query.for('update') : await query;
  return row ? decodeList(row.elements) : [];
}

/** Locks left in the lists' storage on every shard (asked of whichever host of each is the primary now). */
export async function listLocksLeft(shardUrls: readonly string[]): Promise<number> {
  const table = describeTable(lists).locksTable;
  let total = 0;
  for (const url of shardUrls) {
    const client = await connectToShard(url, { connectionTimeoutMillis: 5000 });
    try {
      total += Number((await client.query<{ n: string }>(`select count(*) as n from "${table}"`)).rows[0]!.n);
    } finally {
      await client.end().catch(() => {});
    }
  }
  return total;
}
