import { setTimeout as sleep } from 'node:timers/promises';
import { SchemaError } from '../errors.js';
import { ident, literal, textArray } from '../schema/sql-names.js';
import type { ShardQuery } from './shard-identity.js';

/**
 * Dropping a table's (or an index's) storage on a shard, for migrate():
 * its three storage tables, its functions, its catalogue and placement
 * rows, its schema history and the records of its migrations (so that a
 * client declaring it again creates it anew).
 */
export function dropStorageSql(name: string): string[] {
  const storages = ['versions', 'locks', 'latest'].map((kind) => ident(`${name}__${kind}`));
  return [
    `drop table if exists ${storages.join(', ')}`,
    dropFunctionsSql(name),
    `delete from percolator_tables where name = ${literal(name)}`,
    `delete from percolator_placement where table_name = ${literal(name)}`,
    `delete from percolator_schema_versions where table_name = ${literal(name)}`,
    `delete from percolator_migrations where left(name, ${name.length + 7}) = ${literal(`table/${name}/`)}`,
  ];
}

/**
 * The first step of dropping a table: its writers are stopped on a shard
 * (its prewrite and lock functions dropped, their migrations forgotten: a
 * client declaring the table again creates them anew), so that no new lock
 * of it appears while migrate() waits for the existing ones to go.
 */
export function stopWritersSql(name: string): string[] {
  return [
    dropFunctionsSql(name),
    `delete from percolator_migrations where name in (${literal(`table/${name}/0002-prewrite-function`)}, ${literal(`table/${name}/0006-lock-keys-function`)})`,
  ];
}

/** Every overload of the table's prewrite and lock functions. */
function dropFunctionsSql(name: string): string {
  return `do $drop$
declare
  __f regprocedure;
begin
  for __f in select p.oid::regprocedure from pg_proc p
    where p.proname = any(${textArray([`${name}__prewrite`, `${name}__lock_keys`])}) and p.pronamespace = current_schema()::regnamespace loop
    execute 'drop function ' || __f;
  end loop;
end
$drop$`;
}

/**
 * Whether a shard still holds a lock of table `name`, or a lock of any
 * catalogued table whose transaction's primary is in it (its resolver
 * would need the dropped table to decide it).
 */
export async function holdsLocksOf(query: ShardQuery, name: string): Promise<boolean> {
  const tables = (await query('select name from percolator_tables', [])).rows as { name: string }[];
  const probes = tables.map((t) =>
    t.name === name ? `(select 1 from ${ident(`${t.name}__locks`)} limit 1)` : `(select 1 from ${ident(`${t.name}__locks`)} where primary_table = $1 limit 1)`,
  );
  if (probes.length === 0) return false;
  const { rows } = await query(`${probes.join(' union all ')} limit 1`, [name]);
  return rows.length > 0;
}

/** How long migrate() waits for the locks of transactions on a table being dropped to be resolved. */
const DRAIN_TIMEOUT_MS = 15_000;

/** Waits until no shard holds a lock that needs table `name` (holdsLocksOf); a SchemaError if some remain. */
export async function waitForNoLocksOf(queries: readonly ShardQuery[], name: string): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const held = await Promise.all(queries.map((query) => holdsLocksOf(query, name)));
    if (!held.includes(true)) return;
    if (Date.now() > deadline) {
      throw new SchemaError(
        `table ${name} is not dropped: transactions that wrote it still hold locks after ${DRAIN_TIMEOUT_MS} ms (its writers are stopped); run migrate() again once readers or the version GC have resolved them`,
      );
    }
    await sleep(100);
  }
}
