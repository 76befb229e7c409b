// The soak: `npm run soak -- --minutes N` runs the nemesis long test
// (test/history/nemesis.long.test.ts) for N minutes of faults per isolation
// level (default 5), and exits with vitest's exit code. `--seed S` replays a
// nemesis schedule. Run after a build (`npm run soak` builds first).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, seed: { type: 'string' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(`soak: --minutes must be a positive number, not ${values.minutes}`);
  process.exit(2);
}
const env = { ...process.env, PERCOLATOR_LONG: '1', PERCOLATOR_SOAK_MINUTES: String(minutes) };
if (values.seed !== undefined) env.PERCOLATOR_NEMESIS_SEED = values.seed;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', '--project', 'long', 'test/history/nemesis.long.test.ts'], { cwd: root, env, stdio: 'inherit' });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
