import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PgTable } from 'drizzle-orm/pg-core';
import { isEntity } from '../client/drizzle-entity.js';

/** A schema module's drizzle tables and its `shardKeys` export, or the reason it cannot be used (for the command's message). */
export type LoadedSchema = { schema: Record<string, PgTable>; shardKeys: unknown } | { error: string };

/**
 * Loads an ES module (.js/.mjs) whose exports are drizzle tables (pgTable);
 * other exports (relations, enums) are ignored, and one named `shardKeys`
 * is percolator()'s option.
 */
export async function loadSchemaModule(schemaPath: string): Promise<LoadedSchema> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path.resolve(schemaPath)).href)) as Record<string, unknown>;
  } catch (error) {
    return { error: `cannot load the schema module ${schemaPath}: ${(error as Error).message}` };
  }
  const { shardKeys, ...exports } = module;
  const schema = Object.fromEntries(Object.entries(exports).filter((entry): entry is [string, PgTable] => isEntity(entry[1], PgTable)));
  if (Object.keys(schema).length === 0) return { error: `${schemaPath} exports no drizzle table (pgTable)` };
  return { schema, shardKeys };
}
