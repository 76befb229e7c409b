import { nemesisSuite } from './nemesis-suite.js';

// A bounded run in the normal suite: 12 s of faults per isolation level. The seed is printed with the
// results; PERCOLATOR_NEMESIS_SEED replays a schedule.
await nemesisSuite({ minutesPerLevel: 0.2, seed: Number(process.env.PERCOLATOR_NEMESIS_SEED ?? Math.floor(Math.random() * 1e6)), timeoutMs: 90_000 });
