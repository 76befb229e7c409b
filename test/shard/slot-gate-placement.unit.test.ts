import { count, eq, sql } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { describeTable } from '../../src/schema/table-meta.js';
import { buildJoinRead } from '../../src/shard/join-read-statement.js';
import { buildProjectedRead } from '../../src/shard/projected-read-statement.js';
import { buildSnapshotRead } from '../../src/shard/snapshot-read-statement.js';
import { TableSql } from '../../src/shard/table-sql.js';

const items = pgTable('items', { id: integer().primaryKey(), amount: integer() });
const storage = new TableSql(describeTable(items));
const base = { storage, readTs: 10n, ownStartTs: 5n, mapVersion: 3n, buffered: [] };

/** Every statement built over the snapshot view, with the slot filter on or off. */
function statements(slotFilter: boolean): Record<string, string> {
  return {
    scan: buildSnapshotRead({ ...base, slotFilter }).sql,
    'ordered scan with limit': buildSnapshotRead({ ...base, slotFilter, orderBy: [sql`${items.id}`], limit: 5 }).sql,
    aggregate: buildProjectedRead({ ...base, slotFilter, select: [count()] }).sql,
    grouping: buildProjectedRead({ ...base, slotFilter, select: [sql`${items.amount}`], groupBy: [sql`${items.amount}`] }).sql,
    join: buildJoinRead({ readTs: 10n, ownStartTs: 5n, mapVersion: 3n, slotFilter, tables: [{ storage, buffered: [] }, { storage, buffered: [], join: { kind: 'inner', on: eq(items.id, items.id) } }] }).sql,
  };
}

/**
 * The slot check of reads (src/shard/slot-read-filter.ts): without the
 * per-row filter, every statement must check once that the shard holds no
 * foreign rows (else a read returns them), and must do so in its first
 * branch, before it scans (else a shard that needs the filter does the
 * whole read before it fails and is sent it again).
 */
describe('where reads check slot ownership', () => {
  it('without the per-row filter, every read checks once, before anything it reads', () => {
    for (const [name, text] of Object.entries(statements(false))) {
      // The statement's branches, after its CTEs (which run where a branch reads them): the check's comes first.
      const gate = text.indexOf('percolator_rows_to_filter(');
      expect(gate, name).toBeGreaterThan(0);
      expect(gate, name).toBeLessThan(text.indexOf('\nunion all select * from'));
      expect(text, name).not.toMatch(/\.slot = any/);
    }
  });

  it('with it, every read tests each row and has no gate', () => {
    for (const [name, text] of Object.entries(statements(true))) {
      expect(text, name).not.toContain('percolator_rows_to_filter(');
      expect(text, name).toMatch(/__n\.slot = any/);
    }
  });
});
