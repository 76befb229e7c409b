import pg from 'pg';
import { ident } from '../../src/schema/sql-names.js';
import type { TableMeta } from '../../src/schema/table-meta.js';
import { fromDriverValue } from '../../src/shard/driver-values.js';
import { slotOf } from '../../src/shard/shard-of.js';

/** Like the shard pool's parsers: dates and timestamps stay strings for drizzle's mappers. */
const RAW_TYPE_IDS = new Set([1184, 1114, 1082, 1186, 1231, 1115, 1185, 1187, 1182]);
const types = {
  getTypeParser: (typeId: number, format?: string) => (RAW_TYPE_IDS.has(typeId) ? (v: string) => v : pg.types.getTypeParser(typeId, format as 'text')),
} as pg.CustomTypesConfig;

/** A table with its index entries' storages: every storage table a user table has. */
export function withIndexStorages(metas: readonly TableMeta[]): TableMeta[] {
  return metas.flatMap((meta) => [meta, ...meta.indexes.map((index) => index.storage)]);
}

export interface SlotColumnCheck {
  /** Rows read per storage table (`T__versions` etc.), summed over shards. */
  readonly rows: Record<string, number>;
  /** Rows whose slot column is not the slot of their key: `table key: stored != computed`. */
  readonly wrong: string[];
}

/** Reads every row of every storage table of `metas` on every shard with plain SQL and compares its slot column with its key's slot. */
export async function checkSlotColumn(urls: readonly string[], metas: readonly TableMeta[]): Promise<SlotColumnCheck> {
  const rows: Record<string, number> = {};
  const wrong: string[] = [];
  for (const url of urls) {
    const client = new pg.Client({ connectionString: url, types });
    await client.connect();
    try {
      for (const meta of metas) {
        for (const table of [meta.versionsTable, meta.locksTable, meta.latestTable]) {
          const keys = meta.primaryKey.map((c) => ident(c.name)).join(', ');
          const result = await client.query<Record<string, unknown>>(`select ${keys}, slot from ${ident(table)}`);
          rows[table] = (rows[table] ?? 0) + result.rows.length;
          for (const raw of result.rows) {
            const row: Record<string, unknown> = {};
            for (const c of meta.primaryKey) row[c.key] = fromDriverValue(c, raw[c.name]);
            const slot = slotOf(meta, row);
            if (raw.slot !== slot) wrong.push(`${table} ${JSON.stringify(raw)}: stored ${String(raw.slot)}, computed ${slot}`);
          }
        }
      }
    } finally {
      await client.end();
    }
  }
  return { rows, wrong };
}
