import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/**
 * The file name says which project a test belongs to (CONTRIBUTING.md, Tests):
 *
 * - unit: `*.unit.test.ts` (pure logic: no server, no process) and
 *   `*.test-d.ts` (type tests: checked by tsc, never run). Seconds; needs no build.
 * - integration: every other `*.test.ts`. Real Postgres servers, a real oracle
 *   and client processes started from dist/ (build first); generous timeouts.
 * - long: `*.long.test.ts`, opt-in. Defined only with PERCOLATOR_LONG=1
 *   (`npm run test:long`), so a plain `vitest run` never starts a long run.
 *
 * `npm test` builds, then runs unit and integration.
 */
const long = process.env.PERCOLATOR_LONG === '1';

const unit: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'unit',
    include: ['test/**/*.unit.test.ts'],
    pool: 'threads',
    testTimeout: 20_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: 'test/tsconfig.type-tests.json' },
  },
};

const integration: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'integration',
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/**/*.unit.test.ts', 'test/**/*.long.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
};

const longRuns: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'long',
    include: ['test/**/*.long.test.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
  },
};

export default defineConfig({
  test: {
    projects: [unit, integration, ...(long ? [longRuns] : [])],
    // Integration files start several servers each: at most two files at a
    // time, as far as 2 cores allow (one limit for every project: vitest
    // needs projects run side by side to share it).
    pool: 'forks',
    maxWorkers: 2,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
