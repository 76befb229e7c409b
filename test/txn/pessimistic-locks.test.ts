import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { between, eq, inArray } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/client/database.js';
import { DeadlockError, InvalidInputError, LockWaitTimeoutError, SerializationError, WriteConflictError } from '../../src/errors.js';
import { shardOf } from '../../src/shard/shard-of.js';
import { accounts, accountsMeta } from '../support/bank-schema.js';
import type { LockHolderArgs } from '../support/lock-holder.js';
import { countOnShards } from '../support/raw-shards.js';
import { useDatabase } from '../support/database-fixture.js';
import type { TestCluster } from '../support/test-cluster.js';

const LOCK_HOLDER = path.resolve('dist/test/support/lock-holder.js');
const schema = { accounts };

/** A promise with its resolve: one step of a fixed schedule between transactions. */
function gate(): { open: () => void; passed: Promise<void> } {
  let open!: () => void;
  const passed = new Promise<void>((resolve) => (open = resolve));
  return { open, passed };
}

describe('select ... for update (pessimistic locks)', () => {
  let cluster: TestCluster;
  let db: Database<typeof schema>;
  const registry = new Registry();

  const balanceOf = async (id: number): Promise<number | undefined> => (await db.select().from(accounts).where(eq(accounts.id, id)))[0]?.balance;
  const locksLeft = async (): Promise<number> => (await countOnShards(cluster.shardUrls, 'select count(*) as n from accounts__locks')).reduce((a, b) => a + b, 0);
  const retries = async (): Promise<number> => {
    const metric = await registry.getSingleMetric('percolator_retries_total')?.get();
    return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  };
  const lockWaits = async (outcome: string): Promise<number> => {
    const metric = await registry.getSingleMetric('percolator_lock_waits_total')?.get();
    return (metric?.values ?? []).filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
  };
  /** Lock-only rows are released in the background after a commit. */
  const expectNoLocksSoon = async (): Promise<void> => {
    for (let i = 0; i < 50 && (await locksLeft()) > 0; i++) await sleep(20);
    expect(await locksLeft()).toBe(0);
  };
  /** Two account ids on different shards. */
  const twoShards = (): [number, number] => {
    const first = shardOf(accountsMeta, { id: 1 }, 3);
    for (let id = 2; ; id++) if (shardOf(accountsMeta, { id }, 3) !== first) return [1, id];
  };

  const fixture = useDatabase(schema, { registry, lockWaitTimeoutMs: 10_000 });
  beforeAll(() => {
    ({ cluster, db } = fixture);
  });
  beforeEach(async () => {
    await db.delete(accounts);
    await db.insert(accounts).values(Array.from({ length: 8 }, (_, id) => ({ id, balance: 100 })));
  });

  it.each(['snapshot', 'serializable'] as const)('increments a hot row from many concurrent transactions without a single retry (%s)', async (isolation) => {
    const N = 16;
    const before = await retries();
    await Promise.all(
      Array.from({ length: N }, () =>
        db.transaction(
          async (tx) => {
            const [row] = await tx.select().from(accounts).where(eq(accounts.id, 1)).for('update');
            await tx.update(accounts).set({ balance: row!.balance + 1 }).where(eq(accounts.id, 1));
          },
          { isolation },
        ),
      ),
    );
    expect(await balanceOf(1)).toBe(100 + N);
    expect(await retries()).toBe(before);
    await expectNoLocksSoon();
  });

  it('locks rows by key across shards and rows a filter scan finds; releases the lock-only ones at commit', async () => {
    const [a, b] = twoShards();
    const holding = gate();
    const done = gate();
    const holder = db.transaction(async (tx) => {
      const byKey = await tx.select().from(accounts).where(inArray(accounts.id, [a, b])).for('no key update');
      const scanned = await tx.select().from(accounts).where(between(accounts.id, 5, 6)).for('update');
      holding.open();
      await done.passed;
      await tx.update(accounts).set({ balance: 7 }).where(eq(accounts.id, b));
      return [byKey.length, scanned.map((r) => r.id).sort()];
    });
    await holding.passed;
    const tryLock = (id: number) =>
      db.transaction(async (tx) => tx.select().from(accounts).where(eq(accounts.id, id)).for('update', { wait: 0 }), { maxRetries: 0 });
    for (const id of [a, b, 5, 6]) await expect(tryLock(id)).rejects.toBeInstanceOf(LockWaitTimeoutError);
    await tryLock(4);
    done.open();
    expect(await holder).toEqual([2, [5, 6]]);
    expect(await balanceOf(b)).toBe(7);
    await expectNoLocksSoon();
  });

  it('times out waiting with LockWaitTimeoutError and leaves no lock behind; snapshot readers and writers do not wait', async () => {
    const [a, b] = twoShards();
    const holding = gate();
    const done = gate();
    const holder = db.transaction(async (tx) => {
      await tx.select().from(accounts).where(eq(accounts.id, b)).for('update');
      holding.open();
      await done.passed;
      await tx.update(accounts).set({ balance: 1 }).where(eq(accounts.id, b));
    });
    await holding.passed;
    // Plain readers read past the lock; an optimistic writer conflicts at once.
    expect(await balanceOf(b)).toBe(100);
    await expect(db.transaction(async (tx) => tx.update(accounts).set({ balance: 2 }).where(eq(accounts.id, b)), { maxRetries: 0 })).rejects.toBeInstanceOf(
      WriteConflictError,
    );
    const waiter = db.transaction(
      async (tx) => {
        await tx.select().from(accounts).where(eq(accounts.id, a)).for('update');
        await tx.select().from(accounts).where(eq(accounts.id, b)).for('update', { wait: 150 });
      },
      { maxRetries: 0 },
    );
    const timeouts = await lockWaits('timeout');
    await expect(waiter).rejects.toBeInstanceOf(LockWaitTimeoutError);
    expect(await lockWaits('timeout')).toBe(timeouts + 1);
    // The waiter's own lock on a is gone: nobody waits for it.
    await db.transaction(async (tx) => tx.select().from(accounts).where(eq(accounts.id, a)).for('update', { wait: 0 }), { maxRetries: 0 });
    done.open();
    await holder;
    expect(await balanceOf(b)).toBe(1);
    await expectNoLocksSoon();
  });

  it('releases the locks of a rolled-back transaction', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.select().from(accounts).where(inArray(accounts.id, [1, 2, 3])).for('update');
        await tx.update(accounts).set({ balance: 0 }).where(eq(accounts.id, 2));
        tx.rollback();
      }),
    ).rejects.toThrow(/rolled back/);
    expect(await locksLeft()).toBe(0);
    await db.transaction(async (tx) => tx.select().from(accounts).where(inArray(accounts.id, [1, 2, 3])).for('update', { wait: 0 }), { maxRetries: 0 });
    expect(await balanceOf(2)).toBe(100);
  });

  it.each([2, 3])('ends a cycle of %i waiting transactions with exactly one DeadlockError, the youngest; the others commit', async (n) => {
    const [a, b] = twoShards();
    const keys = [a, b, [3, 4, 5].find((id) => id !== a && id !== b)!].slice(0, n);
    const allHold = keys.map(() => gate());
    const startTs: bigint[] = [];
    const run = (i: number) =>
      db.transaction(
        async (tx) => {
          startTs[i] = tx.startTs;
          const [mine, theirs] = [keys[i]!, keys[(i + 1) % n]!];
          await tx.select().from(accounts).where(eq(accounts.id, mine)).for('update');
          allHold[i]!.open();
          await Promise.all(allHold.map((g) => g.passed));
          await tx.select().from(accounts).where(eq(accounts.id, theirs)).for('update');
          await tx.update(accounts).set({ balance: 50 + i }).where(inArray(accounts.id, [mine, theirs]));
        },
        { maxRetries: 0 },
      );
    const startedAt = Date.now();
    const deadlocks = await lockWaits('deadlock');
    const outcomes = await Promise.allSettled(keys.map((_, i) => run(i)));
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
    expect(failed).toHaveLength(1);
    expect((outcomes[failed[0]!] as PromiseRejectedResult).reason).toBeInstanceOf(DeadlockError);
    expect(startTs[failed[0]!]).toBe(startTs.reduce((x, y) => (x > y ? x : y)));
    expect(await lockWaits('deadlock')).toBe(deadlocks + 1);
    // Found by detection, far below the 10 s lock wait timeout.
    expect(Date.now() - startedAt).toBeLessThan(8000);
    for (const id of keys) expect(await balanceOf(id)).not.toBe(50 + failed[0]!);
    await expectNoLocksSoon();
  });

  it('resolves the locks of a SIGKILLed holder after their TTL; waiters and writers proceed', async () => {
    const [a, b] = twoShards();
    const args: LockHolderArgs = { shards: cluster.shardUrls, timestampSpec: cluster.timestampSpec, lockTtlMs: 400, accounts: [a, b] };
    const child: ChildProcess = spawn(process.execPath, [LOCK_HOLDER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => c.toString().includes('locked') && resolve());
        child.once('exit', () => reject(new Error(`lock holder exited early: ${stderr}`)));
        setTimeout(() => reject(new Error(`lock holder did not lock within 30 s: ${stderr}`)), 30_000).unref();
      });
    } finally {
      // Killed whatever happened: a child left running would keep the test worker alive.
      child.kill('SIGKILL');
      await exited;
    }
    expect(await locksLeft()).toBe(2);
    // A locking reader waits for the dead holder's TTL; an optimistic writer conflicts (retried) until a resolver rolls it back.
    await Promise.all([
      db.transaction(
        async (tx) => {
          const [row] = await tx.select().from(accounts).where(eq(accounts.id, a)).for('update');
          await tx.update(accounts).set({ balance: row!.balance + 1 }).where(eq(accounts.id, a));
        },
        { maxRetries: 0 },
      ),
      db.transaction(async (tx) => tx.update(accounts).set({ balance: 150 }).where(eq(accounts.id, b)), { maxRetries: 100 }),
    ]);
    expect([await balanceOf(a), await balanceOf(b)]).toEqual([101, 150]);
    await expectNoLocksSoon();
  });

  it('still prevents write skew in serializable mode', async () => {
    const [x, y] = twoShards();
    const bothRead = [gate(), gate()];
    const run = (mine: number, other: number, i: number) =>
      db.transaction(
        async (tx) => {
          const [m] = await tx.select().from(accounts).where(eq(accounts.id, mine)).for('update');
          const [o] = await tx.select().from(accounts).where(eq(accounts.id, other));
          bothRead[i]!.open();
          await Promise.all(bothRead.map((g) => g.passed));
          // Invariant: x + y >= 0; each withdraws 150 believing the other row is untouched.
          if (m!.balance + o!.balance >= 150) await tx.update(accounts).set({ balance: m!.balance - 150 }).where(eq(accounts.id, mine));
        },
        { isolation: 'serializable', maxRetries: 0 },
      );
    const outcomes = await Promise.allSettled([run(x, y, 0), run(y, x, 1)]);
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    // At least one fails (both may, if both prewrote before either validated).
    expect(failures.length).toBeGreaterThanOrEqual(1);
    for (const failure of failures) expect(failure).toBeInstanceOf(SerializationError);
    expect((await balanceOf(x))! + (await balanceOf(y))!).toBeGreaterThanOrEqual(0);
  });

  it('validates a serializable transaction that only made locking reads (no read skew between its snapshot and a locked row)', async () => {
    const [x, y] = twoShards();
    const readX = gate();
    const wrote = gate();
    const reader = db.transaction(
      async (tx) => {
        const [oldX] = await tx.select().from(accounts).where(eq(accounts.id, x));
        readX.open();
        await wrote.passed;
        const [newY] = await tx.select().from(accounts).where(eq(accounts.id, y)).for('update');
        return [oldX!.balance, newY!.balance];
      },
      { isolation: 'serializable', maxRetries: 0 },
    );
    await readX.passed;
    await db.transaction(async (tx) => {
      await tx.update(accounts).set({ balance: 101 }).where(inArray(accounts.id, [x, y]));
    });
    wrote.open();
    await expect(reader).rejects.toBeInstanceOf(SerializationError);
    expect(await locksLeft()).toBe(0);
  });

  it.each(['snapshot', 'serializable'] as const)('a row read at the snapshot, changed by another, then locked and written (%s): serializable checks the read from start_ts', async (isolation) => {
    const [x] = twoShards();
    const readX = gate();
    const wrote = gate();
    const writer = db.transaction(
      async (tx) => {
        const [oldX] = await tx.select().from(accounts).where(eq(accounts.id, x));
        readX.open();
        await wrote.passed;
        // The lock reads the newest version (150); prewrite then checks x only from for_update_ts.
        await tx.select().from(accounts).where(eq(accounts.id, x)).for('update');
        await tx.update(accounts).set({ balance: oldX!.balance + 1 }).where(eq(accounts.id, x));
      },
      { isolation, maxRetries: 0 },
    );
    await readX.passed;
    await db.transaction(async (tx) => tx.update(accounts).set({ balance: 150 }).where(eq(accounts.id, x)));
    wrote.open();
    if (isolation === 'serializable') {
      // Its own lock does not cover the earlier read: validation still sees the version committed after start_ts.
      await expect(writer).rejects.toBeInstanceOf(SerializationError);
      expect(await balanceOf(x)).toBe(150);
    } else {
      // Snapshot mode checks nothing read before the lock (docs/ISOLATION.md: lock first).
      await writer;
      expect(await balanceOf(x)).toBe(101);
    }
    await expectNoLocksSoon();
  });

  it('refuses lock strengths it cannot give, and locking reads at a fixed timestamp', async () => {
    // @ts-expect-error shared row locks are not offered
    expect(() => db.select().from(accounts).for('share')).toThrow(InvalidInputError);
    expect(() => db.select().from(accounts).for('update', { wait: -1 })).toThrow(InvalidInputError);
    const ts = await db.currentTimestamp();
    await expect(db.asOf(ts).select().from(accounts).for('update')).rejects.toBeInstanceOf(InvalidInputError);
  });
});
