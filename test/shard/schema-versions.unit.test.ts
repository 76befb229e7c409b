import { integer, pgTable, text, varchar } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { SchemaError } from '../../src/errors.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { columnChanges } from '../../src/shard/column-changes.js';
import { planVersion, type SchemaState } from '../../src/shard/schema-versions.js';
import type { CatalogueEntry } from '../../src/shard/table-catalogue.js';
import { TableSql } from '../../src/shard/table-sql.js';

const v1 = describeTable(pgTable('t', { id: integer().primaryKey(), name: text() }));
const v2 = describeTable(pgTable('t', { id: integer().primaryKey(), name: text(), size: integer() }));
const fp = (meta: typeof v1) => new TableSql(meta).schemaFingerprint;
const state = (version: number | null, fingerprint: string | null, history: [string, number][] = []): SchemaState => ({ version, fingerprint, history: new Map(history) });

describe('planVersion', () => {
  it('nothing to record when every shard stores the declaration', () => {
    expect(planVersion(v1, [state(1, fp(v1)), state(1, fp(v1))])).toEqual({ kind: 'current' });
  });
  it('a new table, and a table stored before versions were recorded, get version 1', () => {
    expect(planVersion(v1, [undefined, undefined])).toEqual({ kind: 'record', version: 1 });
    expect(planVersion(v1, [state(null, null), state(null, null)])).toEqual({ kind: 'record', version: 1 });
  });
  it('a changed declaration gets the next number; a shard it already reached gives its number', () => {
    const stored = state(1, fp(v1), [[fp(v1), 1]]);
    expect(planVersion(v2, [stored, stored])).toEqual({ kind: 'record', version: 2 });
    expect(planVersion(v2, [state(2, fp(v2), [[fp(v1), 1], [fp(v2), 2]]), stored])).toEqual({ kind: 'record', version: 2 });
  });
  it('a declaration recorded under an older number is an old client’s', () => {
    const history: [string, number][] = [[fp(v1), 1], [fp(v2), 2]];
    expect(planVersion(v1, [state(2, fp(v2), history), state(2, fp(v2), history)])).toEqual({ kind: 'older', declared: 1, stored: 2 });
  });
});

describe('columnChanges', () => {
  const entry = (valueColumns: string[], valueTypes: string[]): CatalogueEntry => ({
    name: 't', keyColumns: ['id'], keyTypes: ['integer'], shardKeyLength: 1, valueColumns, valueTypes, indexOf: null, columnsFingerprint: null,
  });
  it('adds and drops value columns', () => {
    expect(columnChanges(v2, entry(['name'], ['text'])).added.map((c) => c.name)).toEqual(['size']);
    expect(columnChanges(v1, entry(['name', 'size'], ['text', 'integer']))).toEqual({ added: [], dropped: ['size'] });
  });
  it('refuses type changes, a drop with an add (a rename?) and key changes, naming the columns', () => {
    const retyped = describeTable(pgTable('t', { id: integer().primaryKey(), name: varchar({ length: 9 }) }));
    expect(() => columnChanges(retyped, entry(['name'], ['text']))).toThrow(/column name is stored as text and declared as varchar\(9\)/);
    const renamed = describeTable(pgTable('t', { id: integer().primaryKey(), title: text() }));
    expect(() => columnChanges(renamed, entry(['name'], ['text']))).toThrow(SchemaError);
    expect(() => columnChanges(renamed, entry(['name'], ['text']))).toThrow(/drops column\(s\) name and adds title/);
    expect(() => columnChanges(v1, { ...entry(['name'], ['text']), keyTypes: ['bigint'] })).toThrow(/primary key is stored as \(id bigint\)/);
  });
});
