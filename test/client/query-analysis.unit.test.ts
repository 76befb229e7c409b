import { and, asc, desc, eq, gt, inArray, isNull, like, not, or, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { checkFilter } from '../../src/client/filter-validation.js';
import { compareCodePoints, compareDecimalStrings, mergeOrdered } from '../../src/client/merge-ordered.js';
import { orderBySql, parseOrderBy } from '../../src/client/order-by.js';
import { resolveProjection } from '../../src/client/projection.js';
import { analyzeKeyFilter, exactKeys } from '../../src/client/key-filter.js';
import { pinnedShards } from '../../src/client/shard-pinning.js';
import { TableRegistry } from '../../src/client/table-registry.js';
import { InvalidInputError } from '../../src/errors.js';
import type { Row } from '../../src/txn/engine-contract.js';
import { PgDialect } from 'drizzle-orm/pg-core';
import { accounts, gadgets, orders, schema, strangers } from '../support/client-schema.js';

const tables = new TableRegistry(schema, { orders: ['accountId'] });
const accountsMeta = tables.metaOf(accounts);
const ordersMeta = tables.metaOf(orders);
const gadgetsMeta = tables.metaOf(gadgets);
/** Placement used only to see which keys a filter enumerates: shard = first shard-key value mod 3. */
const byFirstKey = (meta: typeof accountsMeta) => (row: Row) => Number(row[meta.shardKey[0]!.key]) % 3;

describe('shard pinning', () => {
  const pin = (meta: typeof accountsMeta, where: ReturnType<typeof eq> | undefined) => pinnedShards(meta, where, byFirstKey(meta));

  it('pins eq and inArray on the shard key, alone or inside and()', () => {
    expect(pin(accountsMeta, eq(accounts.id, 4))).toEqual([1]);
    expect(pin(accountsMeta, inArray(accounts.id, [3, 4, 6]))).toEqual([0, 1]);
    expect(pin(accountsMeta, and(gt(accounts.balance, 5), eq(accounts.id, 5)))).toEqual([2]);
    expect(pin(accountsMeta, and(eq(accounts.id, 5)))).toEqual([2]);
    expect(pin(accountsMeta, and(eq(accounts.id, 5), eq(accounts.id, 6)))).toEqual([]);
    expect(pin(ordersMeta, and(eq(orders.accountId, 1), gt(orders.amount, 0)))).toEqual([1]);
    expect(pin(ordersMeta, and(eq(orders.id, 1), and(like(orders.note, 'x%'), eq(orders.accountId, 2))))).toEqual([2]);
  });

  it('takes the union over or() when every branch pins', () => {
    expect(pin(accountsMeta, or(eq(accounts.id, 1), eq(accounts.id, 2)))).toEqual([1, 2]);
    expect(pin(accountsMeta, and(or(eq(accounts.id, 3), eq(accounts.id, 6)), gt(accounts.balance, 0)))).toEqual([0]);
  });

  it('reads all shards for anything else', () => {
    expect(pin(accountsMeta, undefined)).toBeUndefined();
    expect(pin(accountsMeta, gt(accounts.id, 4))).toBeUndefined();
    expect(pin(accountsMeta, or(eq(accounts.id, 1), gt(accounts.balance, 2)))).toBeUndefined();
    expect(pin(accountsMeta, not(eq(accounts.id, 1)))).toBeUndefined();
    expect(pin(accountsMeta, sql`${accounts.id} = ${1}`)).toBeUndefined();
    expect(pin(accountsMeta, isNull(accounts.id))).toBeUndefined();
    expect(pin(ordersMeta, eq(orders.id, 1))).toBeUndefined(); // not the shard key
    expect(pinnedShards(gadgetsMeta, eq(gadgets.id, 3n), () => 0)).toEqual([0]); // bigint keys pin too
  });

  it('gives up (all shards) instead of enumerating huge key sets', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => i);
    expect(pin(accountsMeta, inArray(accounts.id, ids))).toBeUndefined();
  });
});

describe('key lookups', () => {
  const keys = (meta: typeof accountsMeta, where: ReturnType<typeof eq> | undefined) => {
    const filter = analyzeKeyFilter(meta, where!);
    return filter && exactKeys(meta, filter);
  };

  it('turns filters made only of primary-key equalities into keys', () => {
    expect(keys(accountsMeta, eq(accounts.id, 4))).toEqual([[4]]);
    expect(keys(accountsMeta, inArray(accounts.id, [1, 2, 1]))).toEqual([[1], [2]]);
    expect(keys(accountsMeta, or(eq(accounts.id, 1), inArray(accounts.id, [2, 3])))).toEqual([[1], [2], [3]]);
    expect(keys(ordersMeta, and(eq(orders.accountId, 1), inArray(orders.id, [5, 6])))).toEqual([[1, 5], [1, 6]]);
    expect(keys(accountsMeta, and(inArray(accounts.id, [1, 2, 3]), inArray(accounts.id, [2, 3, 4])))).toEqual([[2], [3]]);
    expect(keys(accountsMeta, and(eq(accounts.id, 1), eq(accounts.id, 2)))).toEqual([]);
  });

  it('leaves everything else to a scan', () => {
    expect(keys(accountsMeta, and(eq(accounts.id, 1), gt(accounts.balance, 0)))).toBeUndefined();
    expect(keys(ordersMeta, eq(orders.accountId, 1))).toBeUndefined();
    expect(keys(accountsMeta, or(eq(accounts.id, 1), gt(accounts.id, 5)))).toBeUndefined();
    expect(keys(accountsMeta, not(eq(accounts.id, 1)))).toBeUndefined();
    expect(keys(gadgetsMeta as typeof accountsMeta, eq(gadgets.tag, '123e4567-e89b-12d3-a456-426614174000'))).toBeUndefined();
  });
});

describe('filter validation', () => {
  it('accepts drizzle conditions on the queried table', () => {
    const where = and(eq(accounts.id, 1), or(like(accounts.owner, 'a%'), sql`${accounts.balance} % 3 = 0`));
    expect(checkFilter(accountsMeta, where, 'where')).toBe(where);
  });

  it('refuses columns of other tables, non-SQL, subqueries and mistyped values', () => {
    expect(() => checkFilter(accountsMeta, eq(strangers.id, 1), 'where')).toThrow(/references column strangers\.id of another table/);
    expect(() => checkFilter(accountsMeta, and(eq(accounts.id, 1), gt(orders.amount, 3)), 'where')).toThrow(InvalidInputError);
    expect(() => checkFilter(accountsMeta, { id: 1 }, 'where')).toThrow(/expected a drizzle condition/);
    expect(() => checkFilter(accountsMeta, sql`${accounts.id} in (select id from ${strangers})`, 'where')).toThrow(/subqueries/);
    expect(() => checkFilter(accountsMeta, eq(accounts.id, 'one' as unknown as number), 'where')).toThrow(/expected a 32-bit integer, got string "one"/);
    expect(() => checkFilter(accountsMeta, inArray(accounts.id, [1, 2.5]), 'where')).toThrow(/expected a 32-bit integer/);
  });
});

describe('orderBy and merging', () => {
  it('parses columns, asc() and desc() and forces byte order on text', () => {
    const terms = parseOrderBy(ordersMeta, [desc(orders.amount), orders.id, asc(orders.note)]);
    expect(terms.map((t) => [t.column.key, t.direction])).toEqual([['amount', 'desc'], ['id', 'asc'], ['note', 'asc']]);
    const rendered = orderBySql(terms).map((s) => new PgDialect().sqlToQuery(s).sql);
    expect(rendered).toEqual(['"orders"."amount" desc', '"orders"."id" asc', '"orders"."note" collate "C" asc']);
  });

  it('refuses expressions, other tables and unorderable types', () => {
    expect(() => parseOrderBy(ordersMeta, [sql`${orders.amount} * 2`])).toThrow(/expressions cannot be merged/);
    expect(() => parseOrderBy(ordersMeta, [accounts.id])).toThrow(/another table/);
    expect(() => parseOrderBy(gadgetsMeta, [gadgets.spec])).toThrow(/cannot be merged across shards/);
  });

  it('merges shard runs like Postgres: nulls last asc, first desc, then offset/limit', () => {
    const shard0: Row[] = [{ amount: 1, note: 'b' }, { amount: 3, note: null }, { amount: 5, note: 'a' }];
    const shard1: Row[] = [{ amount: 2, note: 'c' }, { amount: 3, note: 'a' }, { amount: 9, note: null }];
    const asc = parseOrderBy(ordersMeta, [orders.amount]);
    expect(mergeOrdered([...shard0, ...shard1], asc, 1, 3).map((r) => r.amount)).toEqual([2, 3, 3]);
    const byNote = parseOrderBy(ordersMeta, [orders.note, desc(orders.amount)]);
    expect(mergeOrdered([...shard0, ...shard1], byNote).map((r) => [r.note, r.amount])).toEqual([
      ['a', 5], ['a', 3], ['b', 1], ['c', 2], [null, 9], [null, 3],
    ]);
    const descNote = parseOrderBy(ordersMeta, [desc(orders.note)]);
    expect(mergeOrdered([...shard0, ...shard1], descNote).map((r) => r.note).slice(0, 2)).toEqual([null, null]);
  });

  it('compares like the database does for numeric, enum and astral text', () => {
    const sorted = ['10', '9.5', '-1', '-0.5', '1e2', '0', '-12.25', '0.0001', 'NaN'].sort(compareDecimalStrings);
    expect(sorted).toEqual(['-12.25', '-1', '-0.5', '0', '0.0001', '9.5', '10', '1e2', 'NaN']);
    expect(compareDecimalStrings('1.50', '1.5')).toBe(0);
    expect(compareCodePoints('\u{1F600}', '\uFFFF')).toBeGreaterThan(0); // JS '<' says the opposite
    const feelings = parseOrderBy(gadgetsMeta, [gadgets.feeling]);
    expect(mergeOrdered([{ feeling: 'happy' }, { feeling: 'sad' }, { feeling: 'ok' }], feelings).map((r) => r.feeling)).toEqual(['sad', 'ok', 'happy']);
  });
});

describe('partial selection', () => {
  it('maps aliases to columns of the table only', () => {
    expect(resolveProjection(accountsMeta, { who: accounts.owner, id: accounts.id }, 'select')).toEqual([['who', 'owner'], ['id', 'id']]);
    expect(() => resolveProjection(accountsMeta, { id: orders.id }, 'select')).toThrow(/another table/);
    expect(() => resolveProjection(accountsMeta, { n: sql`count(*)` }, 'select')).toThrow(/only columns can be selected/);
  });
});
