import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { completeInsertRow, checkSetValues, MAX_ROW_BYTES } from '../../src/client/row-validation.js';
import { TableRegistry } from '../../src/client/table-registry.js';
import { InvalidInputError, SchemaError } from '../../src/errors.js';
import { accounts, gadgets, schema, strangers } from '../support/client-schema.js';

const tables = new TableRegistry(schema, { orders: ['accountId'] });
const accountsMeta = tables.metaOf(accounts);
const gadgetsMeta = tables.metaOf(gadgets);

function insertError(meta = gadgetsMeta, row: unknown): string {
  try {
    completeInsertRow(meta, row, 'insert');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidInputError');
}

describe('insert rows', () => {
  it('fills JS defaults, defaultNow and nullable columns', () => {
    const before = Date.now();
    const row = completeInsertRow(accountsMeta, { id: 1, balance: 5 }, 'insert');
    expect(row).toMatchObject({ id: 1, balance: 5, owner: null });
    expect((row.createdAt as Date).getTime()).toBeGreaterThanOrEqual(before);
    expect(completeInsertRow(gadgetsMeta, { id: 1n, name: 'x' }, 'insert')).toMatchObject({ active: true, price: null, labels: null });
  });

  it('writes uuids in lower case, as Postgres returns them (placement hashes the value)', () => {
    const row = completeInsertRow(gadgetsMeta, { id: 1n, name: 'x', tag: '123E4567-E89B-12D3-A456-426614174000' }, 'insert');
    expect(row.tag).toBe('123e4567-e89b-12d3-a456-426614174000');
    expect(checkSetValues(gadgetsMeta, { tag: 'ABCDEF00-0000-0000-0000-000000000000' }).tag).toBe('abcdef00-0000-0000-0000-000000000000');
  });

  it('accepts a value of every supported kind', () => {
    const row = {
      id: 9n, name: 'n', price: '-12.50', weight: 2 ** 40, active: false, tag: '123e4567-e89b-12d3-a456-426614174000',
      feeling: 'ok', spec: { size: 3 }, labels: ['a', 'b'], updatedAt: new Date(),
    };
    expect(completeInsertRow(gadgetsMeta, row, 'insert')).toEqual(row);
  });

  it.each([
    [{ id: 1, name: 'x' }, /gadgets\.id \(bigint\): expected a bigint, got number 1/],
    [{ id: 1n, name: 7 }, /gadgets\.name .*expected a string, got number 7/],
    [{ id: 1n, name: 'x', price: 12.5 }, /expected a decimal string/],
    [{ id: 1n, name: 'x', price: '12,5' }, /"12,5" is not a decimal number/],
    [{ id: 1n, name: 'x', weight: 1.5 }, /expected a safe integer/],
    [{ id: 1n, name: 'x', active: 'yes' }, /expected a boolean/],
    [{ id: 1n, name: 'x', tag: 'not-a-uuid' }, /is not a uuid/],
    [{ id: 1n, name: 'x', feeling: 'angry' }, /"angry" is not one of \["sad","ok","happy"\]/],
    [{ id: 1n, name: 'x', spec: { size: 1n } }, /not JSON-serializable/],
    [{ id: 1n, name: 'x', labels: ['a', 3] }, /element 1: expected a string/],
    [{ id: 1n, name: 'x', updatedAt: '2024-01-01' }, /expected a Date, got string/],
    [{ id: 1n, name: 'x', updatedAt: new Date(Number.NaN) }, /the Date is invalid/],
    [{ id: 1n, name: 'x\u0000y' }, /NUL/],
    [{ id: 2n ** 63n, name: 'x' }, /outside the 64-bit range/],
  ])('refuses %o', (row, message) => {
    expect(insertError(gadgetsMeta, row)).toMatch(message);
  });

  it('refuses integers out of range, unknown columns, missing not-null values, varchar overflow', () => {
    expect(insertError(accountsMeta, { id: 2 ** 31, balance: 1 })).toMatch(/outside the range of a 32-bit integer/);
    expect(insertError(accountsMeta, { id: 1, balance: 1, colour: 'red' })).toMatch(/accounts has no column "colour"/);
    expect(insertError(accountsMeta, { id: 1 })).toMatch(/accounts\.balance is not null but got null/);
    expect(insertError(accountsMeta, { id: 1, balance: null })).toMatch(/accounts\.balance is not null/);
    expect(insertError(accountsMeta, { id: 1, balance: 1, owner: 'x'.repeat(17) })).toMatch(/17 characters exceeds varchar\(16\)/);
    // characters, not UTF-16 units, count against the length
    expect(completeInsertRow(accountsMeta, { id: 1, balance: 1, owner: '😀'.repeat(16) }, 'insert').owner).toHaveLength(32);
    expect(insertError(accountsMeta, 'row')).toMatch(/expected a row object/);
    expect(insertError(accountsMeta, { id: 1, balance: sql`1 + 1` })).toMatch(/SQL expression/);
  });

  it(`refuses rows over ${MAX_ROW_BYTES} bytes`, () => {
    expect(insertError(gadgetsMeta, { id: 1n, name: 'x'.repeat(MAX_ROW_BYTES) })).toMatch(/over the 1048576-byte limit/);
    expect(() => completeInsertRow(gadgetsMeta, { id: 1n, name: 'x'.repeat(MAX_ROW_BYTES - 100) }, 'insert')).not.toThrow();
  });
});

describe('update set values', () => {
  it('drops undefined, adds $onUpdate values, checks types', () => {
    expect(checkSetValues(accountsMeta, { balance: 3, owner: undefined })).toEqual({ balance: 3 });
    expect(checkSetValues(gadgetsMeta, { name: 'y' })).toEqual({ name: 'y', updatedAt: new Date(0) });
    expect(() => checkSetValues(accountsMeta, { balance: '3' })).toThrow(/expected a 32-bit integer, got string "3"/);
    expect(() => checkSetValues(accountsMeta, { balance: null })).toThrow(/not null/);
    expect(() => checkSetValues(accountsMeta, { nope: 1 })).toThrow(/no column "nope"/);
    expect(() => checkSetValues(accountsMeta, {})).toThrow(/no values to set/);
    expect(() => checkSetValues(accountsMeta, { balance: sql`${accounts.balance} + 1` })).toThrow(/SQL expression; percolator cannot evaluate SQL/);
  });
});

describe('schema registry', () => {
  it('refuses tables outside the schema and bad shard keys', () => {
    expect(() => tables.metaOf(strangers)).toThrow(SchemaError);
    expect(() => tables.metaOf(strangers)).toThrow(/table "strangers" is not in the schema/);
    expect(() => new TableRegistry(schema, { orders: ['amount'] })).toThrow(/must be a prefix of its primary key/);
    expect(() => new TableRegistry(schema, { nothing: ['id'] })).toThrow(/shardKeys\.nothing names no table/);
    expect(() => new TableRegistry({ accounts: 'x' })).toThrow(/schema\.accounts is not a drizzle pgTable/);
    expect(() => new TableRegistry({ a: accounts, b: accounts })).toThrow(/both name the SQL table "accounts"/);
  });
});
