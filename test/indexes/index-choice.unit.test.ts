import { and, between, eq, gt, gte, inArray, lt, lte, or, sql } from 'drizzle-orm';
import { doublePrecision, index, integer, pgTable, text, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { chooseIndex } from '../../src/client/index-read.js';
import { chooseIndexRange } from '../../src/client/index-range.js';
import { describeTable } from '../../src/schema/table-meta.js';

const t = pgTable(
  'people',
  {
    id: integer().primaryKey(),
    email: varchar({ length: 64 }).notNull(),
    org: integer().notNull(),
    team: text().notNull(),
    weight: doublePrecision(),
  },
  (t) => [uniqueIndex('people_email').on(t.email), index('people_org_team').on(t.org, t.team), index('people_weight').on(t.weight)],
);
const meta = describeTable(t);

describe('which index a filter reads through', () => {
  it('a unique index fixed whole, with the values of the filter', () => {
    const lookup = chooseIndex(meta, and(eq(t.email, 'a@x'), gt(t.id, 3))!)!;
    expect(lookup.index.name).toBe('people_email');
    expect(lookup.tuples).toEqual([{ email: 'a@x' }]);
    expect(lookup.exact).toBe(false);
    expect(chooseIndex(meta, inArray(t.email, ['a', 'b']))!.exact).toBe(true);
  });

  it('a multi-column index fixed whole or by its leading column; never by a later column alone', () => {
    const whole = chooseIndex(meta, and(eq(t.org, 1), inArray(t.team, ['x', 'y']))!)!;
    expect(whole.index.name).toBe('people_org_team');
    expect(whole.columns.map((c) => c.name)).toEqual(['org', 'team']);
    expect(whole.tuples).toHaveLength(2);
    const prefix = chooseIndex(meta, and(eq(t.org, 1), sql`${t.team} like 'a%'`)!)!;
    expect(prefix.columns.map((c) => c.name)).toEqual(['org']);
    expect(prefix.exact).toBe(false);
    expect(chooseIndex(meta, eq(t.team, 'x'))).toBeUndefined();
  });

  it('a prefix only where the later indexed columns cannot be NULL (a row with a NULL there has no entry)', () => {
    const nullable = pgTable('members', { id: integer().primaryKey(), org: integer().notNull(), role: text() }, (m) => [index('members_org_role').on(m.org, m.role)]);
    const members = describeTable(nullable);
    expect(chooseIndex(members, eq(nullable.org, 5))).toBeUndefined();
    expect(chooseIndex(members, and(eq(nullable.org, 5), eq(nullable.role, 'admin'))!)!.columns.map((c) => c.name)).toEqual(['org', 'role']);
  });

  it('the whole unique index wins over others; an or() needs every branch to fix the columns', () => {
    expect(chooseIndex(meta, and(eq(t.email, 'a'), eq(t.org, 1), eq(t.team, 'x'))!)!.index.name).toBe('people_email');
    expect(chooseIndex(meta, or(eq(t.email, 'a'), eq(t.email, 'b'))!)!.tuples).toHaveLength(2);
    expect(chooseIndex(meta, or(eq(t.email, 'a'), eq(t.org, 2))!)).toBeUndefined();
  });

  it('ranges, and columns whose JS equality is not SQL equality, read no index; only usable indexes are chosen', () => {
    expect(chooseIndex(meta, gt(t.email, 'a'))).toBeUndefined();
    expect(chooseIndex(meta, eq(t.weight, 1.5))).toBeUndefined();
    expect(chooseIndex(meta, eq(t.email, 'a'), [])).toBeUndefined();
  });
});

describe('which index a range or an ordered read goes through', () => {
  const org = meta.columns.find((c) => c.key === 'org')!;
  const email = meta.columns.find((c) => c.key === 'email')!;
  const team = meta.columns.find((c) => c.key === 'team')!;

  it('a range on an indexed column, or eq on a prefix and a range on the next column', () => {
    const range = chooseIndexRange(meta, and(gt(t.email, 'a'), lt(t.email, 'm'))!, [], undefined)!;
    expect(range.index.name).toBe('people_email');
    expect(range.exact).toBe(true);
    const prefixed = chooseIndexRange(meta, and(eq(t.org, 1), between(t.team, 'a', 'c'), gt(t.id, 4))!, [], undefined)!;
    expect(prefixed.index.name).toBe('people_org_team');
    expect(prefixed.exact).toBe(true); // id is in every entry
    const partial = chooseIndexRange(meta, and(gte(t.org, 1), sql`${t.weight} > 2`)!, [], undefined)!;
    expect(partial.index.name).toBe('people_org_team');
    expect(partial.exact).toBe(false);
    expect(chooseIndexRange(meta, lte(t.team, 'x'), [], undefined)).toBeUndefined(); // not a leading column
    expect(chooseIndexRange(meta, gt(t.email, 'a'), [], undefined, [])).toBeUndefined(); // not usable
  });

  it('the first entries in order for an ordered read with a limit, only when the entries answer the filter and the ordering', () => {
    const first = chooseIndexRange(meta, undefined, [{ column: email, direction: 'desc' }], 10)!;
    expect(first).toMatchObject({ exact: true, ordered: true, entryFilter: undefined });
    expect(first.index.name).toBe('people_email');
    expect(chooseIndexRange(meta, undefined, [{ column: email, direction: 'asc' }], undefined)).toBeUndefined(); // no limit
    expect(chooseIndexRange(meta, eq(t.org, 3), [{ column: team, direction: 'asc' }], 5)).toMatchObject({ ordered: true });
    // A condition the entries cannot answer: they are read whole, then the rows.
    expect(chooseIndexRange(meta, and(gt(t.org, 3), sql`${t.weight} > 1`)!, [{ column: org, direction: 'asc' }], 5)).toMatchObject({ ordered: false, exact: false });
  });
});
