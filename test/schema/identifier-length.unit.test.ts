import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { SchemaError } from '../../src/errors.js';
import { describeTable } from '../../src/schema/table-meta.js';

// Postgres cuts identifiers to 63 bytes without a word: a longer column would read back under another name,
// and a table's storage names would be cut into each other.
describe('names Postgres would cut to 63 bytes', () => {
  it('refuses a column name longer than 63 bytes, saying how long it is', () => {
    const long = `c${'x'.repeat(63)}`;
    const table = pgTable('wide', { id: integer().primaryKey(), [long]: text(long) });
    expect(() => describeTable(table)).toThrow(SchemaError);
    expect(() => describeTable(table)).toThrow(/^table wide: column cx+ is 64 bytes long; Postgres cuts identifiers to 63 bytes, so it may have at most 63: give it a shorter name$/);
    // Counted in bytes (é is two): 63 is fine, 64 is not.
    expect(() => describeTable(pgTable('wide', { id: integer().primaryKey(), v: text('é'.repeat(31) + 'x') }))).not.toThrow();
    expect(() => describeTable(pgTable('wide', { id: integer().primaryKey(), v: text('é'.repeat(32)) }))).toThrow(/is 64 bytes long/);
  });

  it('refuses a table name whose storage names would be cut (the longest one statements name: T__lock_keys)', () => {
    expect(() => describeTable(pgTable('t'.repeat(52), { id: integer().primaryKey() }))).not.toThrow();
    expect(() => describeTable(pgTable('t'.repeat(53), { id: integer().primaryKey() }))).toThrow(
      /^table t{53} is 53 bytes long; Postgres cuts identifiers to 63 bytes, so it may have at most 52 \(its storage adds __lock_keys\): give it a shorter name$/,
    );
  });

  it('refuses an index name whose storage names would be cut', () => {
    const table = pgTable('items', { id: integer().primaryKey(), v: text() }, (t) => [index('i'.repeat(43)).on(t.v)]);
    expect(() => describeTable(table)).toThrow(/^table items: index\("i{43}"\).*: index name i{43} is 43 bytes long; .* at most 42 \(its storage adds __idx__locks_start_ts\): give it a shorter name$/);
    expect(() => describeTable(pgTable('items', { id: integer().primaryKey(), v: text() }, (t) => [index('i'.repeat(42)).on(t.v)]))).not.toThrow();
  });
});
