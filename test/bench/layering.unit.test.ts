import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The arrows between the CLI, the benchmark and the library point down
 * (CONTRIBUTING.md, "Layers"): src/cli loads bench/ on demand only, bench/
 * uses the library through the entries named here, and the library never
 * imports bench/.
 */
const BENCH_MAY_IMPORT = [
  /^src\/index\.ts$/, // the public API
  /^src\/internal\.ts$/, // the documented internal entry
  /^src\/harness\/[^/]+\.ts$/, // throwaway servers and processes
  /^src\/(errors|logger|redact|package-root)\.ts$/, // leaf modules
  /^src\/command-line\/[^/]+\.ts$/, // argument parsing shared with src/cli
];

interface Import {
  readonly from: string;
  readonly to: string;
  readonly dynamic: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => !f.includes(`${path.sep}generated${path.sep}`));
}

/** Relative imports of a file (static `import`/`export ... from` and `import()`), as paths from the package root. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  const resolve = (spec: string): string => path.relative('.', path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts').split(path.sep).join('/');
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g)) found.push({ from: file, to: resolve(m[1]!), dynamic: false });
  for (const m of text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)) found.push({ from: file, to: resolve(m[1]!), dynamic: true });
  return found;
}

describe('layers', () => {
  const bench = tsFiles('bench').flatMap(importsOf);
  const src = tsFiles('src').flatMap(importsOf);

  it('bench/ imports the library only through its documented entries', () => {
    const intoSrc = bench.filter((i) => i.to.startsWith('src/'));
    expect(intoSrc.length).toBeGreaterThan(0);
    expect(intoSrc.filter((i) => !BENCH_MAY_IMPORT.some((allowed) => allowed.test(i.to)))).toEqual([]);
  });

  it('src/ loads bench/ only on demand, and only from src/cli', () => {
    const intoBench = src.filter((i) => i.to.startsWith('bench/'));
    expect(intoBench.length).toBeGreaterThan(0);
    expect(intoBench.filter((i) => !i.dynamic || !i.from.startsWith(`src${path.sep}cli${path.sep}`))).toEqual([]);
  });
});
