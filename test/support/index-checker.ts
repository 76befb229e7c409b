import type { Row, TransactionEngine } from '../../src/txn/engine-contract.js';
import type { TableMeta } from '../../src/schema/table-meta.js';
import type { Timestamp } from '../../src/timestamp.js';

/**
 * The secondary-index invariant, checked at one snapshot: every row has
 * exactly its entries in every index of its table (none when an indexed
 * column is NULL), and every entry points to a row that has those values.
 * Reads the whole table and every index's storage through the engine, so
 * locks met are resolved like any reader's. Returns the problems found
 * (empty: consistent) and how many rows and entries were compared.
 */
export async function checkIndexes(engine: TransactionEngine, meta: TableMeta, readTs?: Timestamp): Promise<{ problems: string[]; rows: number; entries: number }> {
  const tx = await engine.begin(readTs === undefined ? {} : { readTs });
  try {
    const rows = await tx.select(meta);
    const problems: string[] = [];
    let entries = 0;
    for (const index of meta.indexes) {
      const stored = await tx.select(index.storage);
      entries += stored.length;
      const text = (row: Row) => JSON.stringify(index.storage.columns.map((c) => String(row[c.key])));
      const expected = new Map<string, Row>();
      for (const row of rows) {
        if (index.columns.some((c) => row[c.key] === null || row[c.key] === undefined)) continue;
        expected.set(text(row), row);
      }
      const found = new Map(stored.map((entry) => [text(entry), entry]));
      for (const [id] of expected) if (!found.has(id)) problems.push(`${index.name}: row ${id} has no entry`);
      for (const [id] of found) if (!expected.has(id)) problems.push(`${index.name}: entry ${id} points to no row with those values`);
      if (stored.length !== found.size) problems.push(`${index.name}: duplicate entries`);
      if (index.unique) {
        const values = new Set(stored.map((e) => JSON.stringify(index.columns.map((c) => String(e[c.key])))));
        if (values.size !== stored.length) problems.push(`${index.name}: a unique value held twice`);
      }
    }
    return { problems, rows: rows.length, entries };
  } finally {
    await tx.rollback();
  }
}
