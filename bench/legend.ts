import type { SystemName } from './systems/bench-system.js';
import { workloads } from './workloads/index.js';
import type { WorkloadName } from './workloads/workload.js';

/**
 * What the result columns, systems and workloads are, in a line each: the
 * terminal table and the HTML report print the entries for what they show,
 * so that a reader needs no other document to read them.
 */

export const COLUMN_LEGEND: readonly (readonly [string, string])[] = [
  ['txn/s', 'committed transactions per second in the measured window (after the warm-up)'],
  ['p50 .. max ms', 'latency of one transaction, from its first attempt to its commit (retries included)'],
  ['aborts', 'attempts that aborted retryably (conflict, deadlock, serialization) and ran again'],
  ['anomalies', 'committed transactions whose result proves a broken snapshot (bank: an audit total that is not the initial total)'],
  ['RT/txn', 'statements sent to any Postgres per committed transaction; one statement shared by several transactions counts once, oracle calls not included'],
  ['cpu ms/txn', 'CPU time of every process per committed transaction, split (client/oracle/pg): the client process(es) of the benchmark, the timestamp oracle, all Postgres servers; with --rtt-ms through delay relays, the relays\' CPU (the simulated network, which takes this machine\'s cores too) follows as +N relay (HTML: column +relay) and is not in the total'],
];

export const SYSTEM_LEGEND: Readonly<Record<SystemName, string>> = {
  local: 'every row in one Postgres database, one REPEATABLE READ transaction each: the single-server reference',
  'local-serializable': 'the same, SERIALIZABLE',
  '2pc': 'the same shards with plain tables, SELECT FOR UPDATE, PREPARE TRANSACTION / COMMIT PREPARED; READ COMMITTED reads (no global snapshot)',
  percolator: 'this library over the shards: snapshot isolation, timestamps from the oracle',
  'percolator-serializable': 'this library, serializable (reads validated at commit)',
  'percolator-locking': 'this library, snapshot isolation, reading rows it will write with for(\'update\') as 2pc does (lock waits instead of conflicts)',
};

/** Legend lines for the systems and workloads of a run, then the columns. */
export function legendEntries(systems: readonly string[], workloadNames: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const system of new Set(systems)) {
    const text = SYSTEM_LEGEND[system as SystemName];
    if (text) out.push([system, text]);
  }
  for (const name of new Set(workloadNames)) {
    const workload = workloads[name as WorkloadName];
    if (workload) out.push([name, workload.summary]);
  }
  return [...out, ...COLUMN_LEGEND.map(([k, v]) => [k, v] as [string, string])];
}

/** The legend as indented plain-text lines. */
export function formatLegend(systems: readonly string[], workloadNames: readonly string[]): string {
  const entries = legendEntries(systems, workloadNames);
  const width = Math.max(...entries.map(([k]) => k.length));
  return ['legend:', ...entries.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}
