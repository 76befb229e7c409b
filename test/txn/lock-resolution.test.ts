import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LockWaitTimeoutError, TransactionAbortedError } from '../../src/errors.js';
import type { CommitHookInfo, CommitHooks } from '../../src/txn/commit-hooks.js';
import type { EngineTransaction, TransactionEngine } from '../../src/txn/engine-contract.js';
import { BANK_ACCOUNTS } from '../support/bank.js';
import { accountsMeta } from '../support/bank-schema.js';
import { countOnShards } from '../support/raw-shards.js';
import { useBankEngines } from '../support/engine-fixture.js';
import { slotOf } from '../../src/shard/shard-of.js';

describe('lock resolution', () => {
  const bank = useBankEngines(3);
  const { engine, engines } = bank;
  const readOwners = async (e: TransactionEngine, ids: number[]): Promise<unknown[]> => {
    const tx = await e.begin();
    const rows = await tx.getMany(accountsMeta, ids.map((id) => [id]));
    return ids.map((id) => rows.find((r) => r.id === id)?.owner);
  };
  const writeOwners = async (e: TransactionEngine, ids: number[], owner: string): Promise<void> => {
    const tx = await e.begin();
    tx.put(accountsMeta, ids.map((id) => ({ id, balance: 1000, owner })));
    await tx.commit();
  };

  const sameShardPair = (): number[] => {
    const e = engines[0]!;
    for (let a = 8; a < BANK_ACCOUNTS; a++)
      for (let b = a + 1; b < BANK_ACCOUNTS; b++) if (e.shardOf(accountsMeta, { id: a }) === e.shardOf(accountsMeta, { id: b })) return [a, b];
    throw new Error('no two accounts on one shard');
  };

  it.each([
    ['spanning shards', () => [0, 1, 2]],
    ['on one shard', sameShardPair],
  ])('refuses a late commit after a reader rolled the transaction back (%s; no heartbeat, TTL ran out)', async (_, pickIds) => {
    const ids = pickIds();
    const reader = engine();
    const before = await readOwners(reader, ids);
    const hooks: CommitHooks = {
      async beforeCommitPrimary() {
        await sleep(150);
        expect(await readOwners(reader, ids)).toEqual(before);
      },
    };
    const slow = engine({ lockTtlMs: 50, heartbeat: false, hooks });
    await expect(writeOwners(slow, ids, 'late')).rejects.toBeInstanceOf(TransactionAbortedError);
    expect(await readOwners(reader, ids)).toEqual(before);
    expect(await countOnShards(bank.cluster.shardUrls, 'select count(*) as n from accounts__locks')).toEqual([0, 0, 0]);
    // The rollback marker stays, so a replay of the same transaction can never commit.
    const markers = await countOnShards(bank.cluster.shardUrls, `select count(*) as n from accounts__versions where op = 'rollback'`);
    expect(markers.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
  });

  it('keeps a long commit alive by heartbeat; a reader neither waits for it nor sees it, and pushes it past its snapshot', async () => {
    const reader = engine({ lockWaitTimeoutMs: 300 });
    let readerTs = 0n;
    let readerView: unknown;
    const hooks: CommitHooks = {
      async beforeCommitPrimary(info) {
        // Four TTLs pass while we "work"; the heartbeat keeps the primary alive.
        // The reader comes after one TTL: the secondary (never heartbeated) has
        // expired by its own TTL, yet only the primary's TTL decides.
        await sleep(300);
        const started = Date.now();
        const tx = await reader.begin();
        readerTs = tx.startTs;
        // The reader's snapshot is above the commit_ts this committer holds.
        expect(readerTs).toBeGreaterThan(info.commitTs!);
        const rows = await tx.getMany(accountsMeta, [[3], [4]]);
        readerView = rows.map((r) => r.owner);
        await sleep(Math.max(0, 500 - (Date.now() - started)));
      },
    };
    const before = await readOwners(reader, [3, 4]);
    const slow = engine({ lockTtlMs: 200, hooks });
    const tx = await slow.begin();
    tx.put(accountsMeta, [3, 4].map((id) => ({ id, balance: 1000, owner: 'long' })));
    const { commitTs } = await tx.commit();
    // The reader read the state before the writer, without error: waiting for
    // the lock (held 500 ms more) would have hit its 300 ms lock-wait deadline.
    expect(readerView).toEqual(before);
    // Pushed: the writer had to commit above the reader's snapshot, so the reader's view stays true.
    expect(commitTs!).toBeGreaterThan(readerTs);
    expect(await readOwners(reader, [3, 4])).toEqual(['long', 'long']);
  });

  describe('a reader of the same process as the owner waits for its commit instead of pushing it', () => {
    const pushesOf = async (metrics: Registry): Promise<number> => (await metrics.getSingleMetric('percolator_commit_ts_pushes_total')!.get()).values[0]?.value ?? 0;
    const resolutionsOf = async (metrics: Registry): Promise<Record<string, number>> =>
      Object.fromEntries((await metrics.getSingleMetric('percolator_lock_resolutions_total')!.get()).values.map((v) => [String(v.labels.outcome), v.value]));
    /** Commits owner=`owner` on `ids` with `hook` run once at `phase`; returns the commit_ts and the pushes it took. */
    const commitWithHook = async (
      phase: keyof CommitHooks,
      ids: number[],
      owner: string,
      hook: (info: CommitHookInfo, e: TransactionEngine) => Promise<void>,
      localOwnerWaitMs = 10_000,
      write: (tx: EngineTransaction) => void = (tx) => tx.put(accountsMeta, ids.map((id) => ({ id, balance: 1000, owner }))),
    ) => {
      const metrics = new Registry();
      let armed = true;
      const e: TransactionEngine = engine({
        registry: metrics,
        localOwnerWaitMs,
        hooks: {
          async [phase](info: CommitHookInfo) {
            if (!armed) return;
            armed = false;
            await hook(info, e);
          },
        },
      });
      const tx = await e.begin();
      write(tx);
      const { commitTs } = await tx.commit();
      return { commitTs: commitTs!, pushes: await pushesOf(metrics), resolutions: () => resolutionsOf(metrics) };
    };
    const startRead = (e: TransactionEngine, ids: number[]) => {
      const started = performance.now();
      return e.begin().then(async (tx) => {
        const rows = await tx.getMany(accountsMeta, ids.map((id) => [id]));
        return { readTs: tx.startTs, owners: ids.map((id) => rows.find((r) => r.id === id)?.owner), waitedMs: performance.now() - started };
      });
    };

    it('committed inside the reader\'s snapshot: the reader sees its writes, and its commit_ts stands', async () => {
      const ids = [0, 1, 2];
      let read: ReturnType<typeof startRead> | undefined;
      let heldCommitTs = 0n;
      const { commitTs, pushes, resolutions } = await commitWithHook('beforeCommitPrimary', ids, 'awaited-in', async (info, e) => {
        heldCommitTs = info.commitTs!;
        read = startRead(e, ids);
        await sleep(300); // long enough for the reader to meet our locks even on a loaded machine
      });
      const view = await read!;
      expect(view.readTs).toBeGreaterThan(heldCommitTs);
      expect(commitTs).toBe(heldCommitTs);
      expect(pushes).toBe(0);
      expect(view.owners).toEqual(ids.map(() => 'awaited-in'));
      expect(await resolutions()).toEqual({ awaited: ids.length });
      expect(view.waitedMs).toBeGreaterThanOrEqual(20);
    });

    it.each(['snapshot', 'serializable'] as const)('a whole-table read (%s) re-reads only the keys of an owner committed inside its snapshot: every row once, the owner\'s in', async (isolation) => {
      const ids = [9, 10, 11];
      await readOwners(engines[0]!, ids); // the seed's secondary commits have settled
      let scan: Promise<{ ids: number[]; owners: unknown[]; keysRead: number }> | undefined;
      await commitWithHook('beforeCommitPrimary', ids, `scanned-in-${isolation}`, async (_, e) => {
        scan = e.begin({ isolation }).then(async (tx) => {
          const rows = await tx.select(accountsMeta);
          const keysRead = (tx as unknown as { readSet: { keys: unknown[] } }).readSet.keys.length;
          return { ids: rows.map((r) => Number(r.id)), owners: ids.map((id) => rows.find((r) => r.id === id)?.owner), keysRead };
        });
        await sleep(300); // long enough for the reader to meet our locks even on a loaded machine
      });
      const view = await scan!;
      expect(view.ids.sort((a, b) => a - b)).toEqual(Array.from({ length: BANK_ACCOUNTS }, (_, i) => i));
      expect(view.owners).toEqual(ids.map(() => `scanned-in-${isolation}`));
      // Serializable validation knows every row it read, each once.
      expect(view.keysRead).toBe(isolation === 'serializable' ? BANK_ACCOUNTS : 0);
    });

    it.each(['snapshot', 'serializable'] as const)('a whole-table read (%s) re-reading an owner that deleted one key and inserted another: the deleted row gone, the new one in', async (isolation) => {
      const [gone, kept, added] = [6, 7, BANK_ACCOUNTS + 7];
      await readOwners(engines[0]!, [gone, kept]); // the seed's secondary commits have settled
      let scan: Promise<number[]> | undefined;
      const write = (tx: EngineTransaction) => {
        tx.delete(accountsMeta, [[gone]]);
        tx.put(accountsMeta, [{ id: kept, balance: 1000, owner: `kept-in-${isolation}` }, { id: added, balance: 0, owner: `added-in-${isolation}` }]);
      };
      await commitWithHook('beforeCommitPrimary', [gone, kept, added], '', async (_, e) => {
        scan = e.begin({ isolation }).then(async (tx) => (await tx.select(accountsMeta)).map((r) => Number(r.id)));
        await sleep(300); // long enough for the reader to meet our locks even on a loaded machine
      }, 10_000, write);
      const ids = (await scan!).sort((a, b) => a - b);
      const expected = [...Array.from({ length: BANK_ACCOUNTS }, (_, i) => i).filter((id) => id !== gone), added];
      expect(ids).toEqual(expected);
      // Put the accounts back as they were for the tests after this one.
      const restore = await engines[0]!.begin();
      restore.put(accountsMeta, [{ id: gone, balance: 1000, owner: null }]);
      restore.delete(accountsMeta, [[added]]);
      await restore.commit();
    });

    it('committed above the reader\'s snapshot: the rows it read stand, and nobody is pushed', async () => {
      const ids = [3, 4, 5];
      const before = await readOwners(engines[0]!, ids);
      let read: ReturnType<typeof startRead> | undefined;
      const { commitTs, pushes, resolutions } = await commitWithHook('afterPrewriteAll', ids, 'awaited-above', async (_, e) => {
        read = startRead(e, ids);
        await sleep(300); // long enough for the reader to meet our locks even on a loaded machine
      });
      const view = await read!;
      expect(commitTs).toBeGreaterThan(view.readTs);
      expect(pushes).toBe(0);
      expect(view.owners).toEqual(before);
      expect(await resolutions()).toEqual({ awaited: ids.length });
      expect(view.waitedMs).toBeGreaterThanOrEqual(40);
    });

    it('undecided after the wait budget (localOwnerWaitMs): the reader pushes it like any other owner', async () => {
      const ids = [6, 7];
      const before = await readOwners(engines[0]!, ids);
      let read: ReturnType<typeof startRead> | undefined;
      let heldCommitTs = 0n;
      const { commitTs, pushes, resolutions } = await commitWithHook('beforeCommitPrimary', ids, 'slow', async (info, e) => {
        heldCommitTs = info.commitTs!;
        read = startRead(e, ids);
        await sleep(800);
      }, 100);
      const view = await read!;
      expect(view.owners).toEqual(before);
      expect(pushes).toBe(1);
      expect((await resolutions()).pushed).toBe(ids.length);
      expect(commitTs).toBeGreaterThan(view.readTs);
      expect(view.readTs).toBeGreaterThan(heldCommitTs);
    });

    it('a secondary commit lost after its owner settled (a shard restart): the reader rolls it forward rather than trust the owner', async () => {
      let primaryShard = -1;
      const e = engine({ hooks: { afterCommitPrimary: (info) => void (primaryShard = info.primaryShard) } });
      const ids = [8, 9, 10, 11];
      const a = ids[0]!;
      const b = ids.find((id) => e.shardOf(accountsMeta, { id }) !== e.shardOf(accountsMeta, { id: a }))!;
      const tx = await e.begin();
      tx.put(accountsMeta, [a, b].map((id) => ({ id, balance: 1000, owner: 'lost-secondary' })));
      await tx.commit();
      const [primary, secondary] = e.shardOf(accountsMeta, { id: a }) === primaryShard ? [a, b] : [b, a];
      const client = new pg.Client(bank.cluster.shardUrls[e.shardOf(accountsMeta, { id: secondary })]!);
      await client.connect();
      try {
        // Once the secondary's version is written (the commit settled), put it back the way a
        // lost, never flushed commit leaves it after a restart: the lock, and no version.
        while ((await client.query('select 1 from accounts__versions where id = $1 and start_ts = $2', [secondary, tx.startTs.toString()])).rowCount === 0) await sleep(5);
        await client.query(
          `with v as (delete from accounts__versions where id = $1 and start_ts = $2 returning *)
           insert into accounts__locks (id, start_ts, op, primary_table, primary_key, ttl_ms, balance, owner, slot)
           select id, start_ts, 'put', 'accounts', array[$3::text], 60000, balance, owner, slot from v`,
          [secondary, tx.startTs.toString(), String(primary)],
        );
      } finally {
        await client.end();
      }
      expect(await readOwners(e, [a, b])).toEqual(['lost-secondary', 'lost-secondary']);
      expect(await countOnShards(bank.cluster.shardUrls, `select count(*) as n from accounts__locks where start_ts = ${tx.startTs}`)).toEqual([0, 0, 0]);
    }, 20_000);
  });

  it('a reader meeting a lock whose primary is not written yet waits, then fails with LockWaitTimeoutError', async () => {
    const id = 9;
    const shard = engines[0]!.shardOf(accountsMeta, { id });
    const client = new pg.Client(bank.cluster.shardUrls[shard]!);
    await client.connect();
    try {
      // A secondary prewritten by a transaction whose primary (account 10) has no lock yet, TTL far away.
      await client.query(
        `insert into accounts__locks (id, start_ts, op, primary_table, primary_key, ttl_ms, balance, owner, slot) values ($1, 1, 'put', 'accounts', array['10'], 60000, 1, 'ghost', $2)`,
        [id, slotOf(accountsMeta, { id })],
      );
      const reader = engine({ lockWaitTimeoutMs: 300 });
      const started = Date.now();
      await expect(readOwners(reader, [id])).rejects.toBeInstanceOf(LockWaitTimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      await client.query('delete from accounts__locks where id = $1 and start_ts = 1', [id]);
      await client.end();
    }
  });

  it('with a 1 ms TTL, concurrent resolvers and the committer agree on one outcome', async () => {
    const readers = [engine(), engine(), engine(), engine()];
    const ids = [5, 6, 7];
    let views: Promise<unknown[]>[] = [];
    // Even rounds race the readers against commitPrimary (either outcome);
    // odd rounds let them finish first, so some rollbacks surely happen.
    let round = 0;
    const hooks: CommitHooks = {
      async beforeCommitPrimary() {
        // commit_ts is known: every reader starting now reads above it.
        views = readers.map((r) => readOwners(r, ids));
        if (round % 2 === 1) await Promise.allSettled(views);
      },
    };
    const racer = engine({ lockTtlMs: 1, heartbeat: false, hooks });
    const outcomes = { committed: 0, aborted: 0 };
    for (round = 0; round < 8; round++) {
      const owner = `round-${round}`;
      const committed = await writeOwners(racer, ids, owner).then(
        () => true,
        (error: unknown) => {
          if (!(error instanceof TransactionAbortedError)) throw error;
          return false;
        },
      );
      outcomes[committed ? 'committed' : 'aborted']++;
      const seen = await Promise.all(views);
      const expected = committed ? [owner, owner, owner] : (await readOwners(readers[0]!, ids));
      for (const view of seen) expect(view).toEqual(expected);
      if (committed) expect(expected).toEqual([owner, owner, owner]);
      else expect(expected).not.toContain(owner);
    }
    expect(outcomes.committed + outcomes.aborted).toBe(8);
    expect(outcomes.aborted).toBeGreaterThan(0);
    expect(await countOnShards(bank.cluster.shardUrls, 'select count(*) as n from accounts__locks')).toEqual([0, 0, 0]);
    console.log(`1 ms TTL: ${outcomes.committed} committed, ${outcomes.aborted} rolled back by readers`);
  });

  it('all accounts still readable at the end', async () => {
    const tx = await engine().begin();
    expect(await tx.select(accountsMeta)).toHaveLength(BANK_ACCOUNTS);
  });
});
