import { nemesisSuite } from './nemesis-suite.js';

// The soak: PERCOLATOR_SOAK_MINUTES (default 5) of faults per isolation level, both levels
// (`PERCOLATOR_SOAK_MINUTES=30 npm run test:long -- test/history/nemesis.long.test.ts`).
const minutes = Number(process.env.PERCOLATOR_SOAK_MINUTES ?? 5);
await nemesisSuite({
  minutesPerLevel: minutes,
  seed: Number(process.env.PERCOLATOR_NEMESIS_SEED ?? Math.floor(Math.random() * 1e6)),
  timeoutMs: minutes * 60_000 + 120_000,
});
