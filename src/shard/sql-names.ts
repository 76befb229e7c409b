/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const STORAGE_TYPE: Record<string, string> = { serial: 'integer', bigserial: 'bigint', smallserial: 'smallint' };

/** The type a column is stored and cast as: drizzle's DDL type, minus serial pseudo-types (defaults are the client's job). */
export function storageType(sqlType: string): string {
  return STORAGE_TYPE[sqlType.toLowerCase()] ?? sqlType;
}
