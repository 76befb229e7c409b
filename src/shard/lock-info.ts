import { ident } from './sql-names.js';
import { lockExpiredSql } from './lock-ttl.js';
import type { TableSql } from './table-sql.js';

/** Values of LOCK_INFO_COLUMNS (snapshot-read.ts) for the lock row aliased `l`: its key, owner, primary and expiry. */
export function lockInfoSql(storage: TableSql, l: string): string {
  return `array[${storage.pk.map((c) => `${l}.${ident(c.name)}::text`).join(', ')}] as __lock_key, ${l}.start_ts::text as __lock_start,
  ${l}.primary_table as __primary_table, ${l}.primary_key as __primary_key,
  (${lockExpiredSql(l)}) as __expired`;
}
