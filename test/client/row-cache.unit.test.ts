import { describe, expect, it } from 'vitest';
import { RowCache } from '../../src/client/row-cache.js';
import { TableRegistry } from '../../src/client/table-registry.js';
import { accounts, orders, schema } from '../support/client-schema.js';

const tables = new TableRegistry(schema);
const accountsMeta = tables.metaOf(accounts);
const ordersMeta = tables.metaOf(orders);

describe('a transaction\'s row cache', () => {
  it('answers only when every key is known, absent keys omitted', () => {
    const cache = new RowCache();
    cache.remember(accountsMeta, [{ id: 1, balance: 5 }]);
    cache.forget(accountsMeta, [[2]]);
    expect(cache.lookup(accountsMeta, [[1], [2]])).toEqual([{ id: 1, balance: 5 }]);
    expect(cache.lookup(accountsMeta, [[1], [3]])).toBeUndefined();
    expect(cache.lookup(ordersMeta, [[1, 1]])).toBeUndefined();
  });

  it('follows the transaction\'s own writes and hands out copies', () => {
    const cache = new RowCache();
    const row = { accountId: 1, id: 2, amount: 3 };
    cache.remember(ordersMeta, [row]);
    row.amount = 99; // the caller's object is not the cached one
    const [copy] = cache.lookup(ordersMeta, [[1, 2]])!;
    expect(copy).toEqual({ accountId: 1, id: 2, amount: 3 });
    copy!.amount = 42;
    expect(cache.lookup(ordersMeta, [[1, 2]])).toEqual([{ accountId: 1, id: 2, amount: 3 }]);
    cache.remember(ordersMeta, [{ accountId: 1, id: 2, amount: 4 }]);
    expect(cache.lookup(ordersMeta, [[1, 2]])).toEqual([{ accountId: 1, id: 2, amount: 4 }]);
    cache.forget(ordersMeta, [[1, 2]]);
    expect(cache.lookup(ordersMeta, [[1, 2]])).toEqual([]);
  });

  it('never lets a read that finishes late overwrite a write of the same transaction', () => {
    // Promise.all([tx.select(...id 1), tx.update(...id 1), tx.delete(...id 2)]): both reads were built before the writes.
    const cache = new RowCache();
    cache.remember(accountsMeta, [{ id: 1, balance: 2 }]);
    cache.forget(accountsMeta, [[2]]);
    cache.rememberRead(accountsMeta, [{ id: 1, balance: 1 }, { id: 2, balance: 7 }, { id: 3, balance: 9 }], [[4]]);
    expect(cache.lookup(accountsMeta, [[1], [2], [3], [4]])).toEqual([{ id: 1, balance: 2 }, { id: 3, balance: 9 }]);
  });

  it('stops learning new keys when full but keeps known ones current', () => {
    const cache = new RowCache();
    cache.remember(accountsMeta, Array.from({ length: 10_001 }, (_, id) => ({ id, balance: 0 })));
    expect(cache.lookup(accountsMeta, [[10_000]])).toBeUndefined();
    cache.remember(accountsMeta, [{ id: 7, balance: 70 }]);
    expect(cache.lookup(accountsMeta, [[7]])).toEqual([{ id: 7, balance: 70 }]);
  });
});
