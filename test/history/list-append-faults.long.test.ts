import { listAppendFaultsSuite } from './list-append-faults-suite.js';

// 400 transactions per killed client, 1,000 around a shard restart (list-append-faults.test.ts runs 50 and 120).
listAppendFaultsSuite({ clientTxns: 400, restartTxns: 1000, timeoutMs: 1_800_000 });
