import { sql } from 'drizzle-orm';
import { boolean, date, integer, jsonb, numeric, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { canonicalKeyValue, keyValueProblem } from '../../src/client/key-values.js';
import { sqlDefaultEvaluator } from '../../src/client/sql-default.js';
import { SchemaError } from '../../src/errors.js';

const t = pgTable('t', {
  id: uuid().defaultRandom(),
  at: timestamp().defaultNow(),
  atText: timestamp({ mode: 'string' }).default(sql`current_timestamp`),
  day: date({ mode: 'date' }).default(sql`current_date`),
  status: text().default(sql`'it''s'::text`),
  n: integer().default(sql`(-7)`),
  ratio: numeric().default(sql`1.50`),
  on: boolean().default(sql`'yes'`),
  doc: jsonb().default(sql`'{"a": [1]}'::jsonb`),
  nothing: text().default(sql`null`),
  random: text().default(sql`md5(random()::text)`),
  badInt: integer().default(sql`1.5`),
  param: integer().default(sql`${5}`),
});

const evaluate = (column: (typeof t)[keyof typeof t.$inferSelect]) => sqlDefaultEvaluator(column as never, 't.x')();

describe('SQL defaults evaluated on the client', () => {
  it('computes now, the current date, random uuids and literals', () => {
    expect(evaluate(t.id)).toMatch(/^[0-9a-f-]{36}$/);
    expect(evaluate(t.id)).not.toBe(evaluate(t.id));
    expect(evaluate(t.at)).toBeInstanceOf(Date);
    expect(typeof evaluate(t.atText)).toBe('string');
    expect((evaluate(t.day) as Date).toISOString()).toMatch(/T00:00:00.000Z$/);
    expect(evaluate(t.status)).toBe("it's");
    expect(evaluate(t.n)).toBe(-7);
    expect(evaluate(t.ratio)).toBe('1.50');
    expect(evaluate(t.on)).toBe(true);
    expect(evaluate(t.doc)).toEqual({ a: [1] });
    expect(evaluate(t.doc)).not.toBe(evaluate(t.doc)); // a copy per row
    expect(evaluate(t.nothing)).toBeNull();
  });

  it('refuses anything else with SchemaError', () => {
    expect(() => evaluate(t.random)).toThrow(SchemaError);
    expect(() => evaluate(t.badInt)).toThrow(/32-bit integer/);
    expect(() => evaluate(t.param)).toThrow(/parameters/);
  });
});

describe('canonical key values', () => {
  const k = pgTable('k', { u: uuid(), d: date({ mode: 'date' }), n: numeric(), s: numeric({ precision: 6, scale: 2 }), p: numeric({ precision: 6 }), ts0: timestamp({ precision: 0 }) });
  it('names one key by one value', () => {
    expect(canonicalKeyValue(k.u, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(canonicalKeyValue(k.d, new Date('2024-03-05T23:59:59Z'))).toEqual(new Date('2024-03-05'));
    expect(canonicalKeyValue(k.n, '0015e-1')).toBe('1.5');
  });
  it('finds the keys Postgres would round', () => {
    expect(keyValueProblem(k.s, '1.25')).toBeUndefined();
    expect(keyValueProblem(k.s, '1.2500')).toBeUndefined();
    expect(keyValueProblem(k.s, '1.255')).toMatch(/decimal places/);
    expect(keyValueProblem(k.p, '1.5')).toMatch(/0 decimal places/);
    expect(keyValueProblem(k.n, '1.123456789')).toBeUndefined();
    expect(keyValueProblem(k.ts0, new Date('2024-01-01T00:00:01Z'))).toBeUndefined();
    expect(keyValueProblem(k.ts0, new Date('2024-01-01T00:00:01.5Z'))).toMatch(/finer/);
  });
});
