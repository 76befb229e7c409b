import { spawn } from 'node:child_process';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, UniqueViolationError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import type { IndexCrashClientArgs } from '../support/index-crash-client.js';
import { checkIndexes } from '../support/index-checker.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { indexedUsers, indexedUsersMeta } from '../support/users-schema.js';

const CHILD = path.resolve('dist/test/support/index-crash-client.js');
const LOCK_TTL_MS = 400;
const SEEDED = 60;
const HOOKS: (keyof CommitHooks)[] = ['afterPrewritePrimary', 'afterPrewriteAll', 'beforeCommitPrimary', 'afterCommitPrimary', 'midSecondaries'];

const schema = { indexedUsers };
let cluster: TestCluster;
let db: Database<typeof schema>;
let engine: TransactionEngine;
let tso: TimestampSource;

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3 });
  db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxRetries: 100, lockTtlMs: LOCK_TTL_MS });
  await db.migrate();
  tso = await cluster.createTimestampSource();
  engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource: tso, gc: false, lockTtlMs: LOCK_TTL_MS });
  engine.register([indexedUsersMeta]);
});

afterAll(async () => {
  await engine?.close();
  await tso?.close();
  await db?.close();
  await cluster?.destroy();
});

function runChild(args: IndexCrashClientArgs): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** Random writes of one in-process client until `stop`: inserts, email and status changes (some to taken emails), deletes. */
async function workload(client: number, stop: () => boolean): Promise<{ committed: number; unique: number }> {
  let committed = 0;
  let unique = 0;
  for (let n = 0; !stop(); n++) {
    const id = 1 + Math.floor(Math.random() * SEEDED);
    const op = Math.random();
    try {
      if (op < 0.25) await db.insert(indexedUsers).values({ id: 1000 + client * 10_000 + n, email: `w${client}-${n}@x`, status: `s${n % 4}` });
      else if (op < 0.5) await db.update(indexedUsers).set({ email: `w${client}-${n}@x` }).where(eq(indexedUsers.id, id));
      else if (op < 0.65) await db.update(indexedUsers).set({ email: `e${1 + Math.floor(Math.random() * SEEDED)}@x` }).where(eq(indexedUsers.id, id));
      else if (op < 0.9) await db.update(indexedUsers).set({ status: `s${n % 4}` }).where(eq(indexedUsers.id, id));
      else await db.delete(indexedUsers).where(eq(indexedUsers.id, id));
      committed++;
    } catch (error) {
      if (!(error instanceof UniqueViolationError)) throw error;
      unique++;
    }
  }
  return { committed, unique };
}

describe('index entries under client crashes at every commit phase', () => {
  it('after a random workload with killed clients, every row has exactly its entries at a snapshot', async () => {
    await db.insert(indexedUsers).values(Array.from({ length: SEEDED }, (_, i) => ({ id: i + 1, email: `e${i + 1}@x`, status: `s${i % 4}` })));
    let stopped = false;
    const clients = Array.from({ length: 3 }, (_, c) => workload(c, () => stopped));
    const outcomes: { hook: string; survived: boolean; insertedId: number }[] = [];
    try {
      for (let round = 0; round < 2; round++) {
        for (const [h, hook] of HOOKS.entries()) {
          const k = round * HOOKS.length + h;
          const ids = [1 + ((k * 7) % SEEDED), 1 + ((k * 7 + 3) % SEEDED), 1 + ((k * 7 + 5) % SEEDED)];
          const args: IndexCrashClientArgs = {
            shards: cluster.shardUrls,
            timestampSpec: cluster.timestampSpec,
            hook,
            lockTtlMs: LOCK_TTL_MS,
            moves: ids.map((id, i) => ({ id, email: `child${k}-${i}@x`, status: `crash-${hook}` })),
            insert: { id: 500 + k, email: `child${k}-new@x`, status: `crash-${hook}` },
            deleteId: 1 + ((k * 7 + 1) % SEEDED),
          };
          const result = await runChild(args);
          // A child may lose a write conflict to the workload (exit 1) instead of dying at its hook.
          if (result.signal !== 'SIGKILL') expect(result.stderr).toMatch(/conflict|Unique|duplicate|lock/i);
          outcomes.push({ hook, survived: result.signal !== 'SIGKILL', insertedId: 500 + k });
        }
      }
    } finally {
      stopped = true;
    }
    const work = await Promise.all(clients);
    expect(work.reduce((n, w) => n + w.committed, 0)).toBeGreaterThan(20);
    // Every crashed transaction's locks are decided by the readers of the check (after their TTL).
    await new Promise((resolve) => setTimeout(resolve, LOCK_TTL_MS * 2));
    const check = await checkIndexes(engine, indexedUsersMeta);
    expect(check.problems).toEqual([]);
    expect(check.entries).toBe(check.rows * 2);
    // A child killed after its commit point committed everything (rows and entries); one killed before, nothing.
    for (const o of outcomes.filter((o) => !o.survived)) {
      const rows = await db.select().from(indexedUsers).where(eq(indexedUsers.id, o.insertedId));
      const committed = o.hook === 'afterCommitPrimary' || o.hook === 'midSecondaries';
      if (!committed) expect(rows).toEqual([]);
      const byEmail = await db.select().from(indexedUsers).where(eq(indexedUsers.email, `child${o.insertedId - 500}-new@x`));
      expect(byEmail.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    }
  });
});
