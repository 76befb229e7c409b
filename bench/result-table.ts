import { formatLegend } from './legend.js';
import { clientsOf, median, serversOf, severalRounds, type RunResult } from './run-result.js';

/** The delay relays' CPU per transaction (--rtt-ms without netem), not in the total. */
function relayCpu(r: RunResult): string {
  return r.cpuMs.relay ? ` +${(r.cpuMs.relay / r.commits).toFixed(2)} relay` : '';
}

/** The final comparison as a plain-text table, one row per run, then causes, anomalies, errors. */
export function formatResults(results: readonly RunResult[], notes: readonly string[] = []): string {
  const rounds = severalRounds(results);
  const header = ['workload', 'system', ...(rounds ? ['round'] : []), 'clients', 'shards', 'txn/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'aborts', 'anomalies', 'RT/txn', 'cpu ms/txn', '(client/oracle/pg)'];
  const rows = results.map((r) => [
    r.workload,
    r.system,
    ...(rounds ? [String(r.round)] : []),
    clientsOf(r),
    String(serversOf(r)),
    r.error ? 'failed' : Math.round(r.throughput).toLocaleString('en-US'),
    ms(r.p50Ms),
    ms(r.p95Ms),
    ms(r.p99Ms),
    ms(r.maxMs),
    String(r.aborts),
    String(r.anomalies),
    r.roundTripsPerTxn.toFixed(1),
    r.cpuMsPerTxn.toFixed(2),
    r.commits ? [r.cpuMs.client, r.cpuMs.oracle, r.cpuMs.postgres].map((x) => (x / r.commits).toFixed(2)).join('/') + relayCpu(r) : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];

  const details: string[] = [];
  for (const r of results) {
    const repeated = results.some((o) => o !== r && o.system === r.system && o.workload === r.workload && o.round === r.round);
    const who = `${r.workload}/${r.system}${repeated ? ` (clients ${r.clients}, shards ${r.shards})` : ''}${rounds ? ` round ${r.round}` : ''}`;
    if (r.error) details.push(`${who}: failed: ${r.error}`);
    const causes = Object.entries(r.abortsByCause).sort(([, a], [, b]) => b - a);
    if (causes.length) details.push(`${who} aborts: ${causes.map(([c, n]) => `${c} ${n}`).join(', ')}${r.gaveUp ? `; gave up ${r.gaveUp}` : ''}`);
    const kinds = Object.entries(r.latencyByKind);
    if (kinds.length > 1) details.push(`${who} latency by kind: ${kinds.map(([k, l]) => `${k} ${r.commitsByKind[k] ?? 0} p50 ${ms(l.p50Ms)} p99 ${ms(l.p99Ms)} ms`).join('; ')}`);
    if (r.anomalies) details.push(`${who} anomalies: ${r.anomalies}, e.g. ${r.anomalySamples[0]}`);
    if (r.errors) details.push(`${who} errors: ${r.errors}, e.g. ${r.errorSamples[0]}`);
  }
  details.push(...comparisons(results), ...scaleOut(results), ...notes.map((n) => `note: ${n}`));
  const legend = formatLegend(results.map((r) => r.system), results.map((r) => r.workload));
  return [...out, ...(details.length ? ['', ...details] : []), '', legend].join('\n');
}

/**
 * percolator's throughput relative to the baselines, per workload and
 * configuration. Ratios pair runs of the same round and configuration
 * (never runs far apart in time); with several rounds the line gives their
 * median, then each round's ratio.
 */
function comparisons(results: readonly RunResult[]): string[] {
  const ok = results.filter((r) => !r.error && r.throughput > 0);
  const out: string[] = [];
  const seen = new Set<string>();
  const roundsApart = severalRounds(results);
  for (const p of ok.filter((r) => r.system.startsWith('percolator'))) {
    const setting = `${p.system}/${p.workload}/${p.clients}/${p.shards}`;
    if (seen.has(setting)) continue;
    seen.add(setting);
    const sameSetting = (r: RunResult): boolean => r.workload === p.workload && r.clients === p.clients && r.shards === p.shards;
    const runs = ok.filter((r) => r.system === p.system && sameSetting(r));
    const peers = ok.filter((r) => !r.system.startsWith('percolator') && sameSetting(r));
    const ratios = [...new Set(peers.map((r) => r.system))].flatMap((baseline) => {
      const perRound = runs.flatMap((run) => {
        const peer = peers.find((r) => r.system === baseline && r.round === run.round);
        return peer ? [{ round: run.round, ratio: run.throughput / peer.throughput }] : [];
      });
      if (perRound.length === 0) return [];
      const typical = median(perRound.map((x) => x.ratio)).toFixed(2);
      if (!roundsApart) return [`${typical}x ${baseline}`];
      const each = perRound.map((x) => `round ${x.round}: ${x.ratio.toFixed(2)}`).join(', ');
      return [`${typical}x ${baseline} (median of ${perRound.length}; ${each})`];
    });
    if (ratios.length) out.push(`${p.workload}: ${p.system} = ${ratios.join(', ')} (clients ${p.clients}, shards ${p.shards})`);
  }
  // One concurrency measured: say how to see the rest (the ratio depends on it more than on anything else).
  if (out.length > 0 && new Set(ok.map((r) => r.clients)).size === 1) {
    out.push('these ratios move with concurrency (concurrent transactions share statements; one client pays every round trip alone): see them with --sweep clients=1,16,64');
  }
  return out;
}

/**
 * With runs at several shard counts (--sweep shards=...): each system's
 * throughput from the fewest shards to the most (medians over rounds) and
 * its scale-out efficiency, throughput at N shards / (N/M x throughput at
 * M shards): 1 means every shard added its full share.
 */
function scaleOut(results: readonly RunResult[]): string[] {
  const ok = results.filter((r) => !r.error && r.throughput > 0);
  const out: string[] = [];
  const settings = new Map<string, RunResult[]>();
  for (const r of ok) {
    const key = `${r.workload}/${r.system}/${clientsOf(r)}`;
    settings.set(key, [...(settings.get(key) ?? []), r]);
  }
  for (const runs of settings.values()) {
    const shardCounts = [...new Set(runs.map((r) => r.shards))].sort((a, b) => a - b);
    if (shardCounts.length < 2 || runs[0]!.system.startsWith('local')) continue;
    const at = (shards: number): number => median(runs.filter((r) => r.shards === shards).map((r) => r.throughput));
    const first = shardCounts[0]!;
    const last = shardCounts.at(-1)!;
    const efficiency = at(last) / ((last / first) * at(first));
    const curve = shardCounts.map((n) => `${n}: ${Math.round(at(n)).toLocaleString('en-US')}`).join(', ');
    out.push(`${runs[0]!.workload}: ${runs[0]!.system} scale-out, txn/s by shards ${curve}; efficiency ${first}→${last} shards ${efficiency.toFixed(2)} (clients ${clientsOf(runs[0]!)})`);
  }
  return out;
}

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(2);
}
