import { clientsOf, median, serversOf, severalRounds, type BenchReport, type RunResult } from '../run-result.js';
import { barChart, escapeHtml, lineChart, type LineSeries } from './svg-chart.js';
import { redactText } from '../../src/redact.js';
import { legendEntries } from '../legend.js';
import { spread } from '../rebalance-run.js';

const SYSTEM_COLORS: Record<string, string> = {
  local: '#4c78a8',
  'local-serializable': '#72b7b2',
  '2pc': '#f58518',
  percolator: '#54a24b',
  'percolator-serializable': '#b279a2',
  'percolator-locking': '#9ecae9',
};
const CAUSE_COLORS = ['#e45756', '#eeca3b', '#9d755d', '#bab0ac', '#ff9da6', '#79706e', '#d67195', '#439894'];

function color(system: string): string {
  return SYSTEM_COLORS[system] ?? '#888';
}

/** Runs that belong on one chart: same workload, configuration and round, one per system. */
function groups(results: readonly RunResult[]): { title: string; key: string; runs: RunResult[] }[] {
  const rounds = severalRounds(results);
  const out = new Map<string, { title: string; key: string; runs: RunResult[] }>();
  for (const r of results) {
    const key = `${r.workload}-c${r.clients}-s${r.shards}${rounds ? `-r${r.round}` : ''}`;
    const title = `${r.workload}, ${r.clients} clients, ${r.shards} shard${r.shards > 1 ? 's' : ''}${rounds ? `, round ${r.round}` : ''}`;
    const group = out.get(key) ?? { title, key, runs: [] };
    group.runs.push(r);
    out.set(key, group);
  }
  return [...out.values()];
}

/**
 * The `--report` page: one self-contained HTML file (inline CSS and SVG, no
 * script, no fetch) with the results table, and per configuration the
 * throughput over time, the latency distribution and the aborts and
 * anomalies of each system; with a sweep, throughput, p99 latency and CPU
 * per transaction against the swept parameter.
 */
export function renderReport(report: BenchReport): string {
  const sections: string[] = [];
  if (report.sweep) sections.push(sweepSection(report));
  for (const group of groups(report.results)) sections.push(groupSection(group.title, group.key, group.runs));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>percolator bench report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 12px 0; } td, th { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, td:nth-child(2), th:first-child, th:nth-child(2) { text-align: left; }
code { background: #f4f4f4; padding: 1px 4px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.chart { background: #fff; border: 1px solid #eee; }
.chart .title { font-size: 13px; font-weight: 600; } .chart .tick, .chart .legend { font-size: 11px; fill: #444; }
.chart .axis-label { font-size: 11px; fill: #666; } .chart .grid { stroke: #eee; } .chart .axis { stroke: #999; }
.muted { color: #777; }
.legend { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 13px; color: #444; }
.legend dt { font-weight: 600; } .legend dd { margin: 0; }
</style></head><body>
<h1>percolator bench</h1>
<p><code>${escapeHtml(redactText(report.command))}</code><br><span class="muted">${escapeHtml(report.startedAt)} · ${report.machine.cpus} CPUs · Node ${escapeHtml(report.machine.node)} · ${escapeHtml(report.machine.platform)}</span></p>
${resultsTable(report.results)}
${legend(report.results)}
${((report.settings.notes as string[] | undefined) ?? []).map((n) => `<p class="muted">note: ${escapeHtml(n)}</p>`).join('\n')}
${sections.join('\n')}
</body></html>
`;
}

function legend(results: readonly RunResult[]): string {
  const entries = legendEntries(results.map((r) => r.system), results.map((r) => r.workload));
  return `<dl class="legend">${entries.map(([term, text]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(text)}</dd>`).join('')}</dl>`;
}

function resultsTable(results: readonly RunResult[]): string {
  const rounds = severalRounds(results);
  const head = ['workload', 'system', ...(rounds ? ['round'] : []), 'clients', 'shards', 'txn/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'aborts', 'anomalies', 'RT/txn', 'cpu ms/txn', 'client', 'oracle', 'pg'];
  // The delay relays of --rtt-ms (a simulated network): shown apart, not in cpu ms/txn.
  const relays = results.some((r) => r.cpuMs.relay);
  if (relays) head.push('+relay');
  const perTxn = (r: RunResult, ms: number): string => (r.commits ? (ms / r.commits).toFixed(3) : '-');
  const rows = results.map((r) =>
    [
      r.workload,
      r.system,
      ...(rounds ? [r.round] : []),
      clientsOf(r),
      serversOf(r),
      r.error ? `failed: ${r.error}` : r.throughput.toFixed(1),
      r.p50Ms,
      r.p95Ms,
      r.p99Ms,
      r.maxMs,
      r.aborts,
      r.anomalies,
      r.roundTripsPerTxn,
      r.cpuMsPerTxn.toFixed(3),
      perTxn(r, r.cpuMs.client),
      perTxn(r, r.cpuMs.oracle),
      perTxn(r, r.cpuMs.postgres),
      ...(relays ? [perTxn(r, r.cpuMs.relay ?? 0)] : []),
    ].map((c) => `<td>${escapeHtml(String(c))}</td>`).join(''),
  );
  return `<table class="results"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${r}</tr>`).join('\n')}
</tbody></table>`;
}

function groupSection(title: string, key: string, runs: readonly RunResult[]): string {
  const throughput = lineChart({
    id: `throughput-over-time-${key}`,
    title: `Throughput over time: ${title}`,
    xLabel: 'seconds into the measured window',
    yLabel: 'committed txn/s',
    series: runs.map((r) => ({ name: r.system, color: color(r.system), points: r.timeline.map((p) => [p.t, p.throughput] as const) })),
  });
  const percentiles = runs[0]?.latencyPercentiles.map((p) => p.percentile) ?? [];
  const latency = lineChart({
    id: `latency-distribution-${key}`,
    title: `Latency distribution: ${title}`,
    xLabel: 'percentile',
    yLabel: 'latency ms',
    xCategories: percentiles.map((p) => (p === 100 ? 'max' : p === 0 ? 'min' : `p${p}`)),
    series: runs.map((r) => ({ name: r.system, color: color(r.system), points: r.latencyPercentiles.map((p, i) => [i, p.ms] as const) })),
  });
  const causes = [...new Set(runs.flatMap((r) => Object.keys(r.abortsByCause)))].sort();
  const aborts = barChart({
    id: `aborts-${key}`,
    title: `Aborts by cause: ${title}`,
    yLabel: 'aborted attempts',
    categories: runs.map((r) => r.system),
    stacks: causes.map((cause, i) => ({ name: cause, color: CAUSE_COLORS[i % CAUSE_COLORS.length]!, values: runs.map((r) => r.abortsByCause[cause] ?? 0) })),
  });
  const anomalies = barChart({
    id: `anomalies-${key}`,
    title: `Anomalies seen: ${title}`,
    yLabel: 'committed txns with a wrong result',
    categories: runs.map((r) => r.system),
    stacks: [{ name: 'anomalies', color: '#e45756', values: runs.map((r) => r.anomalies) }],
  });
  return `<h2>${escapeHtml(title)}</h2>${rebalanceNote(runs)}<div class="charts">${throughput}${latency}${aborts}${anomalies}</div>`;
}

/** --rebalance-at: when the shard was added and the rebalance ended, the dip, and the rows per shard at the end. */
function rebalanceNote(runs: readonly RunResult[]): string {
  const rows = runs.flatMap((r) => {
    const b = r.rebalance;
    if (!b) return [];
    const cells = b.error
      ? [r.system, b.atS.toFixed(1), b.endS.toFixed(1), `failed: ${b.error}`, '', '', '', '', '', '', '']
      : [r.system, b.atS.toFixed(1), b.endS.toFixed(1), b.slotsMoved, b.rowsCopied, b.throughputBefore, b.throughputDuring, b.throughputAfter, b.throughputMin, b.dipSeconds, `${b.rowsPerShard.join(' / ')} (${spread(b.rowsPerShard)})`];
    return [`<tr>${cells.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`];
  });
  if (rows.length === 0) return '';
  const head = ['system', 'added at s', 'rebalanced by s', 'slots moved', 'rows copied', 'txn/s before', 'txn/s during', 'txn/s after', 'lowest second', 's below 80%', 'rows per shard at the end (spread)'];
  return `<p>A shard was added during the measured window and slots rebalanced onto it while the workload ran (seconds into the window; the throughput chart below shows the dip).</p>
<table class="rebalance"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function sweepSection(report: BenchReport): string {
  const sweep = report.sweep!;
  const out: string[] = [];
  for (const workload of [...new Set(report.results.map((r) => r.workload))]) {
    const runs = report.results.filter((r) => r.workload === workload && !r.error);
    const systems = [...new Set(runs.map((r) => r.system))];
    const series = (metric: (r: RunResult) => number): LineSeries[] =>
      systems.map((system) => ({
        name: system,
        color: color(system),
        // One point per swept value: the median over rounds.
        points: sweep.values.flatMap((value) => {
          const atValue = runs.filter((r) => r.system === system && r[sweep.parameter] === value).map(metric);
          return atValue.length ? [[value, median(atValue)] as const] : [];
        }),
      }));
    const chart = (id: string, title: string, yLabel: string, metric: (r: RunResult) => number): string =>
      lineChart({ id: `${id}-${workload}`, title: `${title}: ${workload}`, xLabel: sweep.parameter, yLabel, xEvenlySpaced: true, series: series(metric) });
    out.push(
      `<h2>Sweep over ${sweep.parameter}: ${escapeHtml(workload)}</h2><div class="charts">`,
      chart('sweep-throughput', `Throughput vs ${sweep.parameter}`, 'committed txn/s', (r) => r.throughput),
      chart('sweep-p99', `p99 latency vs ${sweep.parameter}`, 'p99 ms', (r) => r.p99Ms),
      chart('sweep-cpu', `CPU per transaction vs ${sweep.parameter}`, 'CPU ms/txn', (r) => r.cpuMsPerTxn),
      '</div>',
    );
  }
  return out.join('\n');
}
