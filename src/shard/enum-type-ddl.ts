import type pg from 'pg';
import { SchemaError } from '../errors.js';
import { enumOf } from '../schema/enum-types.js';
import { ident, literal } from '../schema/sql-names.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { ShardPool } from './shard-pool.js';

/** A Postgres enum type a column of the schema is declared with (`pgEnum('role', [...])`). */
export interface EnumType {
  readonly name: string;
  readonly labels: readonly string[];
}

/** The enum types of the tables' columns, each once; two enums of one name with other labels are a SchemaError. */
export function enumTypesOf(tables: readonly TableMeta[]): EnumType[] {
  const byName = new Map<string, EnumType>();
  for (const table of tables) {
    for (const column of table.columns) {
      const declared = enumOf(column.column);
      if (!declared) continue;
      const known = byName.get(declared.enumName);
      if (known && !sameLabels(known.labels, declared.enumValues)) {
        throw new SchemaError(`two enums named "${declared.enumName}" with different labels (${known.labels.join(', ')} / ${declared.enumValues.join(', ')})`);
      }
      byName.set(declared.enumName, { name: declared.enumName, labels: [...declared.enumValues] });
    }
  }
  return [...byName.values()];
}

/**
 * Creates each enum type missing on the shard (in the schema where the
 * storage tables go), inside migrate's local transaction and advisory lock.
 * A type that exists with the declared labels in that order is left alone;
 * one whose labels the declaration keeps in order and adds to grows
 * (`alter type ... add value ... before/after`, as Postgres allows while
 * other clients run); one that would lose or reorder labels (stored rows may
 * hold them), or a non-enum type of that name, is a SchemaError.
 */
export async function ensureEnumTypes(shard: ShardPool, client: pg.PoolClient, enums: readonly EnumType[]): Promise<void> {
  for (const type of enums) {
    const { rows } = await shard.query<{ typtype: string; labels: string[] | null }>(
      {
        text: `select t.typtype::text as typtype, array(select e.enumlabel::text from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder) as labels
               from pg_type t join pg_namespace n on n.oid = t.typnamespace where t.typname = $1 and n.nspname = current_schema()`,
        values: [type.name],
      },
      { client },
    );
    const existing = rows[0];
    if (!existing) {
      const labels = type.labels.map(literal).join(', ');
      await shard.query({ text: `create type ${ident(type.name)} as enum (${labels})`, values: [] }, { client });
    } else if (existing.typtype !== 'e') {
      throw new SchemaError(`shard ${shard.name}: "${type.name}" names a type that is not an enum; rename the pgEnum`);
    } else if (!sameLabels(existing.labels ?? [], type.labels)) {
      const additions = labelAdditions(existing.labels ?? [], type.labels);
      if (!additions) {
        throw new SchemaError(
          `shard ${shard.name}: enum type "${type.name}" has the labels (${(existing.labels ?? []).join(', ')}), the schema declares (${type.labels.join(', ')}): ` +
            'labels can be added anywhere, but not removed, renamed or reordered (stored rows may hold them)',
        );
      }
      for (const { label, place } of additions) {
        await shard.query({ text: `alter type ${ident(type.name)} add value if not exists ${literal(label)}${place}`, values: [] }, { client });
      }
    }
  }
}

/** Whether two enums have the same labels in the same order. */
function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label, i) => label === b[i]);
}

/**
 * The labels to add, each with where (` before 'x'` or ` after 'y'`), when
 * `declared` keeps every `existing` label in order; undefined when a label
 * would be removed or the order changes.
 */
export function labelAdditions(existing: readonly string[], declared: readonly string[]): { label: string; place: string }[] | undefined {
  const additions: { label: string; place: string }[] = [];
  let next = 0;
  declared.forEach((label, i) => {
    if (label === existing[next]) next++;
    else if (existing.includes(label)) next = Number.NaN; // out of order
    else {
      const before = existing[next];
      const after = declared[i - 1];
      additions.push({ label, place: before !== undefined ? ` before ${literal(before)}` : after !== undefined ? ` after ${literal(after)}` : '' });
    }
  });
  return next === existing.length ? additions : undefined;
}
