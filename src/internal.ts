/**
 * @internal The internals that this package's own tools use beyond the
 * public API (src/index.ts): the benchmark (bench/) places rows as the
 * engine does, names the storage tables it cleans up, and drives the oracle
 * client directly. Not part of the public API: no compatibility promise.
 *
 * What bench/ may import from src/ (CONTRIBUTING.md, "Layers"): src/index.ts,
 * this module, src/harness/ (throwaway servers and processes) and the leaf
 * modules src/errors.ts, src/logger.ts, src/redact.ts, src/package-root.ts
 * and src/command-line/.
 */
export { describeTable, type TableMeta } from './schema/table-meta.js';
export { shardOf } from './shard/shard-of.js';
export { createOracleClient, type OracleClientOptions } from './oracle/oracle-client.js';
export { connectToShard } from './shard/shard-primary.js';
