import { listAppendFaultsSuite } from './list-append-faults-suite.js';

// Bounded (list-append-faults.long.test.ts runs 400 and 1,000).
listAppendFaultsSuite({ clientTxns: 50, restartTxns: 120, timeoutMs: 60_000 });
