import { eq, Param, sql } from 'drizzle-orm';
import { customType, pgTable, integer } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { checkFilter } from '../../src/client/filter-validation.js';
import { TableRegistry } from '../../src/client/table-registry.js';
import { accounts, schema } from '../support/client-schema.js';

const meta = new TableRegistry(schema, {}).metaOf(accounts);

// A column type whose driver value is SQL: drizzle renders it verbatim.
const rawText = customType<{ data: string; driverData: string }>({
  dataType: () => 'text',
  toDriver: (value) => sql.raw(value) as unknown as string,
});
const notes = pgTable('notes', { id: integer().primaryKey(), body: rawText('body') });

describe('parameters of a filter', () => {
  it('a parameter whose value is SQL is checked as the SQL it renders to', () => {
    const smuggled = sql.raw("(select count(*)::int from accounts__locks where pg_read_file('/etc/passwd') is not null)");
    expect(() => checkFilter(meta, sql`${accounts.id} = ${sql.param(smuggled)}`, 'where')).toThrow(InvalidInputError);
    expect(() => checkFilter(meta, sql`${accounts.id} in ${new Param(sql`(select id from pg_catalog.pg_authid)`)}`, 'where')).toThrow(InvalidInputError);
  });

  it('a column type whose driver value is SQL cannot smuggle text either', () => {
    const notesMeta = new TableRegistry({ notes }, {}).metaOf(notes);
    expect(() => checkFilter(notesMeta, eq(notes.body, '1 or exists(select 1 from notes__locks)'), 'where')).toThrow(InvalidInputError);
  });

  it('sql.inlineParams() is refused: values travel as bound parameters only', () => {
    expect(() => checkFilter(meta, sql`${accounts.id} = ${5}`.inlineParams(), 'where')).toThrow(/inlineParams/);
  });

  it('ordinary values still pass, including a parameter holding harmless SQL', () => {
    expect(() => checkFilter(meta, eq(accounts.id, 1), 'where')).not.toThrow();
    expect(() => checkFilter(meta, sql`${accounts.id} = ${sql.param(7)}`, 'where')).not.toThrow();
    expect(() => checkFilter(meta, sql`${accounts.id} = ${sql.param(sql`${accounts.id} + 1`)}`, 'where')).not.toThrow();
  });
});
