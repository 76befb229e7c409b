import { getTableName, Table } from 'drizzle-orm';
import { InvalidInputError } from '../errors.js';
import { isEntity } from './drizzle-entity.js';

/**
 * @internal Joins are not implemented yet: refused before anything is read,
 * saying how to read the related rows at the same snapshot instead.
 */
export function joinRefused(method: string, table: unknown): InvalidInputError {
  const other = isEntity(table, Table) ? getTableName(table as Table) : 'the other table';
  return new InvalidInputError(
    `${method}() is not supported yet: read the rows of one table, then the rows of ${other} by key with inArray(${other}.<key column>, keys) in the same db.transaction() (one snapshot, so the two reads are consistent), and match them in JS`,
  );
}

/**
 * @internal `db.query.<table>.findMany/findFirst` (drizzle's relational
 * queries) are not implemented yet: every access is refused with what to
 * write instead.
 */
export function relationalQueriesRefused(): Record<string, never> {
  return new Proxy({} as Record<string, never>, {
    get(_target, property) {
      if (typeof property === 'symbol' || property === 'then') return undefined;
      throw new InvalidInputError(
        `db.query.${property} (relational queries: findMany/findFirst with "with") is not supported yet: use db.select().from(${property}).where(...), then read related rows by key with inArray() in the same db.transaction()`,
      );
    },
  });
}
