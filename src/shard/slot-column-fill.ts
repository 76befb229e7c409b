import { ident, storageType } from '../schema/sql-names.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { Row } from '../schema/row.js';
import { fromDriverValue } from './driver-values.js';
import { slotOf } from './shard-of.js';

type Run = (text: string, values?: readonly unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** Keys whose rows get their slot per statement while filling in. */
const FILL_BATCH = 5_000;

/**
 * Fills the slot column (schema/table/0009-slot-column.sql) of rows stored
 * before it existed, then makes it not null: the slot of each key is the
 * client's hash of its shard key (shard-of.ts), which SQL cannot compute,
 * so keys are read here in batches (as typed values, mapped as reads map
 * them, then hashed from their driver texts as writes hash them) and their
 * rows updated. Runs inside migrate()'s local transaction on the shard,
 * under the tables' locks the migration took with its alter: a shard is
 * filled wholly or not at all.
 */
export async function fillSlotColumn(run: Run, table: TableMeta): Promise<void> {
  const pk = table.primaryKey;
  const keyList = pk.map((c) => ident(c.name)).join(', ');
  const texts = pk.map((c, i) => `${ident(c.name)}::text as __k${i}`).join(', ');
  const match = pk.map((c, i) => `t.${ident(c.name)} = b.k${i}::${storageType(c.sqlType)}`).join(' and ');
  const arrays = pk.map((_, i) => `$${i + 1}::text[]`).join(', ');
  for (const storage of [table.versionsTable, table.locksTable, table.latestTable].map(ident)) {
    for (;;) {
      const { rows } = await run(`select distinct ${keyList}, ${texts} from ${storage} where slot is null limit ${FILL_BATCH}`);
      if (rows.length === 0) break;
      const slots = rows.map((raw) => {
        const row: Row = {};
        for (const c of pk) row[c.key] = fromDriverValue(c, raw[c.name]);
        return slotOf(table, row);
      });
      await run(
        `update ${storage} t set slot = b.slot from unnest(${arrays}, $${pk.length + 1}::int[]) as b(${pk.map((_, i) => `k${i}`).join(', ')}, slot)
where ${match} and t.slot is null`,
        [...pk.map((_, i) => rows.map((r) => r[`__k${i}`] as string)), slots],
      );
    }
    await run(`alter table ${storage} alter column slot set not null`);
  }
}
