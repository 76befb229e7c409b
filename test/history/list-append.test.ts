import { listAppendSuite } from './list-append-suite.js';

// Bounded: 300 transactions per run (list-append.long.test.ts runs 5,000).
listAppendSuite({ txns: 300, timeoutMs: 60_000 });
