import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstallationError } from '../errors.js';

let schemaDir: string | undefined;

/**
 * The project's `schema/` directory (SQL files shipped with the package).
 * Found by walking up from this module, which lives at src/schema/ when run
 * from source and at dist/src/schema/ when built.
 */
export function schemaDirectory(): string {
  if (schemaDir) return schemaDir;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'schema', 'table', '0001-storage.sql');
    if (existsSync(candidate)) return (schemaDir = path.join(dir, 'schema'));
    const parent = path.dirname(dir);
    if (parent === dir) throw new InstallationError('pg-percolator: schema/ directory not found next to the package');
    dir = parent;
  }
}

export function readSchemaFile(relative: string): string {
  return readFileSync(path.join(schemaDirectory(), relative), 'utf8');
}
