import type { PgColumn } from 'drizzle-orm/pg-core';

interface DrizzleEnum {
  enumName: string;
  enumValues: readonly string[];
  schema?: string | undefined;
}

/** The drizzle enum behind a column (`role()` or `role().array()`), if any. */
export function enumOf(column: PgColumn): DrizzleEnum | undefined {
  const own = (column as unknown as { enum?: DrizzleEnum }).enum;
  if (own) return own;
  const base = (column as unknown as { baseColumn?: PgColumn }).baseColumn;
  return base ? enumOf(base) : undefined;
}
