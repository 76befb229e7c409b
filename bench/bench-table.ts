import { index, integer, pgTable, text, type PgColumn, type PgTable } from 'drizzle-orm/pg-core';

export type BenchValue = number | string;
/** A row as workloads see it: column name → value; `id` is the integer primary key. */
export type BenchRow = Record<string, BenchValue> & { id: number };

export interface BenchColumn {
  readonly name: string;
  readonly sqlType: 'integer' | 'text';
}

/**
 * One table of a workload, described once for every system: the SQL
 * baselines create it from `columns`/`indexed`, percolator from the drizzle
 * table. Each run gets its own physical name so that runs never see each
 * other's rows and a user's own servers need no fresh database.
 */
export interface BenchTable {
  readonly name: string;
  /** The first column is the primary key `id integer`. */
  readonly columns: readonly BenchColumn[];
  /** Columns with a secondary index (filtered scans). */
  readonly indexed: readonly string[];
  readonly drizzle: PgTable;
  column(name: string): PgColumn;
}

function describe(drizzle: PgTable, name: string, columns: BenchColumn[], indexed: string[]): BenchTable {
  const byName = drizzle as unknown as Record<string, PgColumn>;
  return {
    name,
    columns,
    indexed,
    drizzle,
    column(column) {
      const found = byName[column];
      if (!found) throw new Error(`bench table ${name} has no column ${column}`);
      return found;
    },
  };
}

/** Bank accounts: `id`, `balance`. */
export function accountsTable(name: string): BenchTable {
  const drizzle = pgTable(name, { id: integer('id').primaryKey(), balance: integer('balance').notNull() });
  return describe(drizzle, name, [
    { name: 'id', sqlType: 'integer' },
    { name: 'balance', sqlType: 'integer' },
  ], []);
}

/** YCSB-style records: `id`, an integer `value` (filtered by scans, indexed) and a 100-character `payload`. */
export function recordsTable(name: string): BenchTable {
  const drizzle = pgTable(
    name,
    { id: integer('id').primaryKey(), value: integer('value').notNull(), payload: text('payload').notNull() },
    (t) => [index(`${name}_value_idx`).on(t.value)],
  );
  return describe(drizzle, name, [
    { name: 'id', sqlType: 'integer' },
    { name: 'value', sqlType: 'integer' },
    { name: 'payload', sqlType: 'text' },
  ], ['value']);
}
