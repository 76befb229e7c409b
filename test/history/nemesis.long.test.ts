import { nemesisSuite } from './nemesis-suite.js';

// The soak: PERCOLATOR_SOAK_MINUTES (default 5) of faults per isolation level, both levels
// (`npm run soak -- --minutes 30`, scripts/soak.mjs).
const minutes = Number(process.env.PERCOLATOR_SOAK_MINUTES ?? 5);
await nemesisSuite({
  minutesPerLevel: minutes,
  seed: Number(process.env.PERCOLATOR_NEMESIS_SEED ?? Math.floor(Math.random() * 1e6)),
  timeoutMs: minutes * 60_000 + 120_000,
});
