import { createRequire } from 'node:module';
import type { ColumnMeta } from '../schema/table-meta.js';

/** pg's own parameter serializer (untyped CommonJS internals): JS value → text, Buffer or null. */
export const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(v: unknown): unknown };

const NEEDS_ESCAPE = /[\\"]/;
const ESCAPED = /[\\"]/g;

/**
 * A statement parameter as node-postgres would send it. The protocol's
 * statements pass every column as a flat `text[]` of strings and nulls; those
 * are written here in one pass (each element quoted, `\` and `"` escaped:
 * the literal pg's own arrayString produces) instead of pg's per-element
 * conversion and two replaces, which made 7% of the bytes a bank transfer
 * allocates in the client. Anything else goes through pg's `prepareValue`.
 */
export function toParameter(value: unknown): unknown {
  if (!Array.isArray(value)) return prepareValue(value);
  // Appended to one string, not joined from an array of quoted parts: a quarter less time per parameter, measured alone.
  let text = '{';
  for (let i = 0; i < value.length; i++) {
    const element: unknown = value[i];
    if (i > 0) text += ',';
    if (element === null || element === undefined) text += 'NULL';
    else if (typeof element === 'string') text += NEEDS_ESCAPE.test(element) ? `"${element.replace(ESCAPED, '\\$&')}"` : '"' + element + '"';
    else return prepareValue(value);
  }
  return text + '}';
}

/**
 * Values travel to Postgres as text, the same text node-postgres would send
 * for an ordinary parameter: `column.mapToDriverValue` (drizzle's mapping,
 * e.g. Date → ISO string, json → JSON text) then pg's own `prepareValue`.
 * Rows are sent as `text[]` arrays and cast to the column's SQL type in
 * the statement, so one statement shape serves any number of rows and the
 * 65,535-parameter limit never applies.
 */
export function toDriverText(column: ColumnMeta, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const driver = (column.column as unknown as { mapToDriverValue(v: unknown): unknown }).mapToDriverValue(value);
  const prepared = prepareValue(driver);
  if (prepared === null || prepared === undefined) return null;
  if (Buffer.isBuffer(prepared)) return `\\x${prepared.toString('hex')}`;
  return String(prepared);
}

/** Maps a value as node-postgres parsed it back to the JS value drizzle would give (`$inferSelect`). */
export function fromDriverValue(column: ColumnMeta, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return (column.column as unknown as { mapFromDriverValue(v: unknown): unknown }).mapFromDriverValue(value);
}
