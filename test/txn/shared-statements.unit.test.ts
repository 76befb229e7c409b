import { describe, expect, it } from 'vitest';
import { ShardUnavailableError } from '../../src/errors.js';
import type { ShardPool } from '../../src/shard/shard-pool.js';
import type { KeyTexts } from '../../src/shard/key-text.js';
import { MemberFailure, SharedStatements, type ShareableStatement } from '../../src/txn/shared-statements.js';

/**
 * The batcher's scheduling and failure rules, with a statement that records
 * its calls instead of running SQL (what the statements do on Postgres is
 * test/shard/write-statements.test.ts and every engine test).
 */
interface Request {
  readonly name: string;
  readonly keys: readonly KeyTexts[];
  readonly table?: string;
  readonly queue?: string;
}

const shard = { index: 0, name: '#0' } as ShardPool;

function recorder(options: { fail?: (batch: readonly Request[]) => unknown; keysMayRepeat?: boolean } = {}) {
  const calls: string[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const statement: ShareableStatement<Request, string | MemberFailure> = {
    queue: (r) => r.queue ?? '',
    async run(_shard, requests) {
      calls.push(requests.map((r) => r.name));
      if (hold) await new Promise<void>((resolve) => (release = resolve));
      const failure = options.fail?.(requests);
      if (failure) throw failure;
      return requests.map((r) => (r.name.startsWith('bad') ? new MemberFailure(new Error(`${r.name} refused`)) : `${r.name} done`));
    },
    keys: (r) => r.keys.map((keyTexts) => ({ table: r.table ?? 't', keyTexts })),
    keysMayRepeat: options.keysMayRepeat,
  };
  return {
    calls,
    statement,
    holdNext: () => (hold = true),
    releaseHeld: () => {
      hold = false;
      release?.();
    },
  };
}

const request = (name: string, ...keys: number[]): Request => ({ name, keys: keys.map((k) => [String(k)]) });
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedStatements', () => {
  it('sends what one turn submits as one statement, and what arrives meanwhile as the next', async () => {
    const r = recorder();
    const batcher = new SharedStatements(r.statement, 100);
    r.holdNext();
    const first = [batcher.submit(shard, request('a', 1)), batcher.submit(shard, request('b', 2))];
    await turn();
    const later = [batcher.submit(shard, request('c', 3)), batcher.submit(shard, request('d', 4))];
    await turn();
    expect(r.calls).toEqual([['a', 'b']]); // c and d wait for the statement in flight
    r.releaseHeld();
    expect(await Promise.all([...first, ...later])).toEqual(['a done', 'b done', 'c done', 'd done']);
    expect(r.calls).toEqual([['a', 'b'], ['c', 'd']]);
  });

  it('keeps two requests for one key apart (writes), and within maxRows keys', async () => {
    const r = recorder();
    const batcher = new SharedStatements(r.statement, 3);
    await Promise.all([request('a', 1, 2), request('b', 2), request('c', 3), request('d', 4, 5)].map((q) => batcher.submit(shard, q)));
    expect(r.calls).toEqual([['a', 'c'], ['b', 'd']]);
    const reads = recorder({ keysMayRepeat: true });
    const readBatcher = new SharedStatements(reads.statement, 3);
    await Promise.all([request('a', 1), request('b', 1), request('c', 1), request('d', 1)].map((q) => readBatcher.submit(shard, q)));
    expect(reads.calls).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('shares a statement between one key of two tables, never between two queues', async () => {
    const r = recorder();
    const batcher = new SharedStatements(r.statement, 100);
    const requests = [request('a', 1), { ...request('b', 1), table: 'u' }, { ...request('c', 2), queue: 'other' }];
    await Promise.all(requests.map((q) => batcher.submit(shard, q)));
    expect(r.calls).toEqual([['a', 'b'], ['c']]);
  });

  it('runs the members of a batch the shard refused one by one, each with its own outcome', async () => {
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const r = recorder({ fail: (batch) => (batch.length > 1 || batch[0]!.name === 'c' ? deadlock : undefined) });
    const batcher = new SharedStatements(r.statement, 100);
    const results = await Promise.allSettled(['a', 'b', 'c'].map((name, i) => batcher.submit(shard, request(name, i))));
    expect(results.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['a done', 'b done', 'deadlock detected']);
    expect(r.calls).toEqual([['a', 'b', 'c'], ['a'], ['b'], ['c']]);
  });

  it('fails every member, without running them again, when the outcome is unknown', async () => {
    const r = recorder({ fail: () => new ShardUnavailableError('#0') });
    const batcher = new SharedStatements(r.statement, 100);
    const results = await Promise.allSettled(['a', 'b'].map((name, i) => batcher.submit(shard, request(name, i))));
    expect(results.every((s) => s.status === 'rejected' && s.reason instanceof ShardUnavailableError)).toBe(true);
    expect(r.calls).toEqual([['a', 'b']]);
  });

  it('fails only the member the statement refused', async () => {
    const r = recorder();
    const batcher = new SharedStatements(r.statement, 100);
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((name, i) => batcher.submit(shard, request(name, i))));
    expect(results.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // A queue stays usable after every kind of outcome.
    expect(await batcher.submit(shard, request('e', 9))).toBe('e done');
  });
});
