import { listAppendSuite } from './list-append-suite.js';

// 5,000 transactions per run (list-append.test.ts runs 300).
listAppendSuite({ txns: 5000, timeoutMs: 1_800_000 });
