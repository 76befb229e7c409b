import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { SchemaError } from '../../src/errors.js';
import { describeTable } from '../../src/schema/table-meta.js';

// Postgres cuts identifiers to 63 bytes without a word: a longer column would read back under another name.
describe('names Postgres would cut to 63 bytes', () => {
  it('refuses a column name longer than 63 bytes, naming it', () => {
    const long = `c${'x'.repeat(63)}`;
    const table = pgTable('wide', { id: integer().primaryKey(), [long]: text(long) });
    expect(() => describeTable(table)).toThrow(SchemaError);
    expect(() => describeTable(table)).toThrow(/table wide: column: cx+ is longer than Postgres's 63-byte identifiers/);
    // 63 bytes is fine, counted in bytes (é is two).
    expect(() => describeTable(pgTable('wide', { id: integer().primaryKey(), v: text('é'.repeat(31) + 'x') }))).not.toThrow();
    expect(() => describeTable(pgTable('wide', { id: integer().primaryKey(), v: text('é'.repeat(32)) }))).toThrow(SchemaError);
  });

  it('still refuses an index whose storage name would be cut', () => {
    const table = pgTable('items', { id: integer().primaryKey(), v: text() }, (t) => [index('i'.repeat(45)).on(t.v)]);
    expect(() => describeTable(table)).toThrow(/table items: index\("i{45}"\): its storage name: i{45}__idx__locks_start_ts is longer than Postgres/);
  });
});
