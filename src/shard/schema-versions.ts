import { SchemaError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { ShardQuery } from './shard-identity.js';
import { TableSql } from './table-sql.js';

/**
 * Per-table schema versions (schema/core/0007-schema-versions.sql): what a
 * shard records of each table's shape, and how migrate() numbers a new one.
 * A version is cluster-wide: migrate() decides each table's number from
 * every shard's record before changing anything, then records it on each
 * shard in the local transaction that applies the change there.
 */

/** What one shard records of one table. */
export interface SchemaState {
  readonly version: number | null;
  readonly fingerprint: string | null;
  /** Versions recorded for each fingerprint the table ever had here. */
  readonly history: ReadonlyMap<string, number>;
}

/** What migrate() does about one declared user table's schema version. */
export type VersionPlan =
  /** The shards store it as declared (or record no version and nothing changes): nothing to record. */
  | { readonly kind: 'current' }
  /** Record `version` where the shard's fingerprint differs. */
  | { readonly kind: 'record'; readonly version: number }
  /** The declaration is an older version: migrate() leaves the table alone (and its writers stay fenced). */
  | { readonly kind: 'older'; readonly declared: number; readonly stored: number };

/** Each named table's SchemaState on one shard (a table the shard does not catalogue is absent). */
export async function readSchemaStates(query: ShardQuery, names: readonly string[]): Promise<Map<string, SchemaState>> {
  const rows = (await query('select name, schema_version, schema_fingerprint from percolator_tables where name = any($1::text[])', [names])).rows as unknown as {
    name: string;
    schema_version: number | null;
    schema_fingerprint: string | null;
  }[];
  const history = (await query('select table_name, fingerprint, max(version) as version from percolator_schema_versions where table_name = any($1::text[]) group by 1, 2', [names]))
    .rows as unknown as { table_name: string; fingerprint: string; version: number }[];
  const states = new Map<string, SchemaState>();
  for (const row of rows) states.set(row.name, { version: row.schema_version, fingerprint: row.schema_fingerprint, history: new Map() });
  for (const row of history) (states.get(row.table_name)?.history as Map<string, number> | undefined)?.set(row.fingerprint, row.version);
  return states;
}

/**
 * The version plan of a declared user table from every shard's state. A
 * shard that already records the declaration (an earlier migrate stopped
 * part way) gives its number, so the next migrate completes that change;
 * otherwise the next number after the highest recorded. A declaration
 * recorded before under an older number is an old client's.
 */
export function planVersion(meta: TableMeta, states: readonly (SchemaState | undefined)[]): VersionPlan {
  const fingerprint = new TableSql(meta).schemaFingerprint;
  const recorded = states.filter((s): s is SchemaState => s !== undefined);
  if (states.every((s) => s?.fingerprint === fingerprint)) return { kind: 'current' };
  const highest = Math.max(0, ...recorded.map((s) => s.version ?? 0));
  const done = recorded.find((s) => s.fingerprint === fingerprint && s.version !== null);
  if (done) return { kind: 'record', version: done.version! };
  const earlier = Math.max(0, ...recorded.map((s) => s.history.get(fingerprint) ?? 0));
  if (earlier > 0 && earlier < highest) return { kind: 'older', declared: earlier, stored: highest };
  return { kind: 'record', version: highest + 1 };
}

/**
 * Records `version` of the table on this shard (inside migrate()'s local
 * transaction, after its change). A shard that records a newer or equal
 * number for another shape was changed by a concurrent migrate(): refused.
 */
export async function recordVersion(query: ShardQuery, meta: TableMeta, version: number): Promise<void> {
  const storage = new TableSql(meta);
  const { rows } = await query('select schema_version, schema_fingerprint from percolator_tables where name = $1', [meta.name]);
  const stored = rows[0] as { schema_version: number | null; schema_fingerprint: string | null } | undefined;
  if (stored?.schema_fingerprint === storage.schemaFingerprint) return;
  if (stored?.schema_version != null && stored.schema_version >= version) {
    throw new SchemaError(`table ${meta.name}: another migrate() recorded schema version ${stored.schema_version} while this one was applying version ${version}; run migrate() again`);
  }
  await query('update percolator_tables set schema_version = $2, schema_fingerprint = $3, columns_fingerprint = $4, updated_at = now() where name = $1', [
    meta.name,
    version,
    storage.schemaFingerprint,
    storage.columnsFingerprint,
  ]);
  await query('insert into percolator_schema_versions (table_name, version, fingerprint) values ($1, $2, $3) on conflict do nothing', [meta.name, version, storage.schemaFingerprint]);
}
