/**
 * SQL text for the two SQL baselines. Statements are sent with the simple
 * query protocol so that several go in one round trip (`BEGIN; SELECT ...`,
 * `UPDATE ...; PREPARE TRANSACTION ...`): the baselines get the fewest round
 * trips a careful application would use. Values are integers we generate or
 * escaped literals, so inlining them is safe.
 */
import type { BenchRow, BenchTable, BenchValue } from '../bench-table.js';
import type { ColumnRange, RowUpdate } from './bench-system.js';

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function literal(value: BenchValue): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`bench values are integers, got ${value}`);
    return String(value);
  }
  return `'${value.replaceAll("'", "''")}'`;
}

function columnList(table: BenchTable): string {
  return table.columns.map((c) => quoteIdent(c.name)).join(', ');
}

export function selectByIds(table: BenchTable, ids: readonly number[], forUpdate: boolean): string {
  const lock = forUpdate ? ' ORDER BY id FOR UPDATE' : '';
  return `SELECT ${columnList(table)} FROM ${quoteIdent(table.name)} WHERE id IN (${ids.map(literal).join(', ')})${lock}`;
}

export function selectRange(table: BenchTable, range: ColumnRange | undefined): string {
  const where = range ? ` WHERE ${quoteIdent(range.column)} BETWEEN ${literal(range.from)} AND ${literal(range.to)}` : '';
  return `SELECT ${columnList(table)} FROM ${quoteIdent(table.name)}${where}`;
}

export function updateRow(table: BenchTable, update: RowUpdate): string {
  const set = Object.entries(update.set)
    .map(([column, value]) => `${quoteIdent(column)} = ${literal(value)}`)
    .join(', ');
  return `UPDATE ${quoteIdent(table.name)} SET ${set} WHERE id = ${literal(update.id)}`;
}

export function createTable(table: BenchTable): string[] {
  const columns = table.columns.map((c, i) => `${quoteIdent(c.name)} ${c.sqlType} NOT NULL${i === 0 ? ' PRIMARY KEY' : ''}`);
  return [
    `DROP TABLE IF EXISTS ${quoteIdent(table.name)}`,
    `CREATE TABLE ${quoteIdent(table.name)} (${columns.join(', ')})`,
    ...table.indexed.map((c) => `CREATE INDEX ON ${quoteIdent(table.name)} (${quoteIdent(c)})`),
  ];
}

/** One multi-row INSERT with parameters per column (unnest), for loading. */
export function insertRows(table: BenchTable, rows: readonly BenchRow[]): { text: string; values: unknown[] } {
  const casts = table.columns.map((c, i) => `$${i + 1}::${c.sqlType}[]`).join(', ');
  return {
    text: `INSERT INTO ${quoteIdent(table.name)} (${columnList(table)}) SELECT * FROM unnest(${casts})`,
    values: table.columns.map((c) => rows.map((r) => r[c.name])),
  };
}
