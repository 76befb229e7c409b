import { eq } from 'drizzle-orm';
import { numeric, pgTable, text } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { UniqueViolationError, type Database } from '../../src/index.js';
import { canonicalDecimal } from '../../src/shard/key-text.js';
import { shardOfTexts } from '../../src/shard/shard-of.js';
import { useDatabase } from '../support/database-fixture.js';

describe('canonical decimal text of numeric keys', () => {
  it.each([
    ['1.50', '1.5'],
    ['001.500', '1.5'],
    ['-0.0', '0'],
    ['+7', '7'],
    ['1e3', '1000'],
    ['15E-1', '1.5'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['-0.00120', '-0.0012'],
    ['NaN', 'NaN'],
    ['1e99999', '1e99999'],
  ])('%s → %s', (text, canonical) => {
    expect(canonicalDecimal(text)).toBe(canonical);
  });

  it('gives every spelling of a number the same text, and that text is its own canonical form', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(fc.boolean(), digits, digits, fc.nat(3), fc.nat(3), fc.integer({ min: -5, max: 5 }), (negative, whole, fraction, leadingZeros, trailingZeros, shift) => {
        const sign = negative ? '-' : '';
        const plain = `${sign}${whole}.${fraction}`;
        // The same number: padded with zeros, or with its point moved and an exponent to undo it.
        const all = `${whole}${fraction}`;
        const point = whole.length + shift;
        const shifted =
          point <= 0 ? `0.${'0'.repeat(-point)}${all}` : point >= all.length ? `${all}${'0'.repeat(point - all.length)}` : `${all.slice(0, point)}.${all.slice(point)}`;
        const spellings = [`${sign}${'0'.repeat(leadingZeros)}${whole}.${fraction}${'0'.repeat(trailingZeros)}`, `${sign}${shifted}e${-shift}`];
        const canonical = canonicalDecimal(plain);
        for (const spelling of spellings) expect(canonicalDecimal(spelling)).toBe(canonical);
        expect(canonicalDecimal(canonical)).toBe(canonical);
        expect(Number(canonical)).toBeCloseTo(Number(plain), 6);
      }),
    );
  });
});

describe('numeric primary keys across shards', () => {
  const prices = pgTable('prices', { id: numeric().primaryKey(), label: text().notNull() });
  const fixture = useDatabase({ prices });
  let db: Database<{ prices: typeof prices }>;

  beforeAll(() => {
    db = fixture.db;
  });

  it('places every spelling of one key on one shard, so the key stays unique', async () => {
    // Two spellings that a hash of the raw text would place on different shards.
    const spellings = ['1.5', '1.50', '01.5', '1.500', '15e-1', '0.15e1'];
    const [first, second] = spellings.flatMap((a) => spellings.filter((b) => shardOfTexts([a], 3) !== shardOfTexts([b], 3)).map((b) => [a, b]))[0]!;
    await db.insert(prices).values({ id: first!, label: 'first' });
    await expect(db.insert(prices).values({ id: second!, label: 'second' })).rejects.toThrow(UniqueViolationError);
    expect(await db.select().from(prices).where(eq(prices.id, second!))).toEqual([{ id: '1.5', label: 'first' }]);
    await db.update(prices).set({ label: 'updated' }).where(eq(prices.id, second!));
    expect(await db.select().from(prices)).toEqual([{ id: '1.5', label: 'updated' }]);
  });
});
