import type { KeyTexts } from './key-text.js';
import type { Statement } from './shard-pool.js';
import { storageType } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';
import { slotOfKey } from './shard-of.js';

/** The statements of rollback: locks deleted, rollback markers written. */

/**
 * Deletes `startTs`'s locks on these keys and writes a rollback marker
 * (commit_ts = start_ts) where asked, so a late prewrite or commit of that
 * transaction on the key fails its conflict check.
 */
export function rollbackKeys(t: TableSql, startTs: bigint, keys: readonly KeyTexts[], markers: readonly boolean[]): Statement {
  const inRows = t.keyInRows('l', 3);
  const slots = `$${3 + t.pk.length}::text[]`;
  const text = t.statementText('rollbackKeys', () => `with b as (select * from unnest(${t.arrays(2, 1 + t.pk.length)}, ${slots}) as b(m, ${t.keyNames()}, slot)),
del as (delete from ${t.locks} l ${inRows ? `where ${inRows}` : `using b where ${t.pkMatch('l', 'b')}`} and l.start_ts = $1::bigint returning 1)
insert into ${t.versions} (${t.pkList}, slot, commit_ts, start_ts, op)
select ${t.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}, b.slot::smallint, $1::bigint, $1::bigint, 'rollback' from b where b.m = 't'
on conflict do nothing`);
  return { text, values: [startTs.toString(), markers.map((m) => (m ? 't' : 'f')), ...t.keyColumnsOf(keys), t.slotsOf(keys)] };
}

export function deleteLock(t: TableSql, startTs: bigint, key: KeyTexts): Statement {
  return { text: `delete from ${t.locks} l where ${t.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint`, values: [startTs.toString(), key] };
}

export function writeRollbackMarker(t: TableSql, startTs: bigint, key: KeyTexts): Statement {
  return {
    text: `insert into ${t.versions} (${t.pkList}, slot, commit_ts, start_ts, op) values (${t.pkFromParam(2)}, $3::smallint, $1::bigint, $1::bigint, 'rollback') on conflict do nothing`,
    values: [startTs.toString(), key, slotOfKey(t.meta, key)],
  };
}
