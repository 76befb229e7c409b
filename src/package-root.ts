import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstallationError } from './errors.js';

let cached: string | undefined;

/**
 * The package's root directory, found by walking up from this file. Code runs
 * both from src/ (vitest) and from dist/src/ (the CLI), at different depths.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'pg-percolator') return (cached = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new InstallationError(`package root of pg-percolator not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Path of a compiled module in dist/, e.g. `compiledPath('bench/oracle/oracle-load-worker')`. */
export function compiledPath(modulePathWithoutExtension: string): string {
  return path.join(packageRoot(), 'dist', `${modulePathWithoutExtension}.js`);
}
