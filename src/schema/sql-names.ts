/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const STORAGE_TYPE: Record<string, string> = { serial: 'integer', bigserial: 'bigint', smallserial: 'smallint' };

/** The type a column is stored and cast as: drizzle's DDL type, minus serial pseudo-types (defaults are the client's job). */
export function storageType(sqlType: string): string {
  return STORAGE_TYPE[sqlType.toLowerCase()] ?? sqlType;
}

/** Quotes an SQL string literal (standard_conforming_strings: backslashes are plain). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** An SQL `text[]` literal of `values`. */
export function textArray(values: readonly string[]): string {
  return `array[${values.map(literal).join(', ')}]::text[]`;
}
