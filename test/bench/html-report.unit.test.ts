import { describe, expect, it } from 'vitest';
import { renderReport } from '../../bench/report/html-report.js';
import type { BenchReport } from '../../bench/run-result.js';
import { runResult as result } from '../support/run-results.js';

const report: BenchReport = {
  command: 'percolator bench --sweep clients=4,16 --report r.html',
  startedAt: '2026-11-26T00:00:00.000Z',
  machine: { cpus: 2, node: 'v20', platform: 'linux' },
  settings: { notes: ['a <note>'] },
  sweep: { parameter: 'clients', values: [4, 16] },
  results: [result('local', 4, 1), result('2pc', 4, 2), result('percolator', 4, 3), result('local', 16, 4), result('2pc', 16, 5), result('percolator', 16, 6)],
};

/** Every chart of the page: its id and, per series, the data it draws. */
function charts(html: string): Map<string, Map<string, unknown>> {
  const out = new Map<string, Map<string, unknown>>();
  for (const svg of html.matchAll(/<svg [^>]*data-chart="([^"]+)"[^>]*>([\s\S]*?)<\/svg>/g)) {
    const series = new Map<string, unknown>();
    for (const g of svg[2]!.matchAll(/<g class="series" data-series="([^"]+)" data-values="([^"]+)">/g)) {
      series.set(unescape(g[1]!), JSON.parse(unescape(g[2]!)));
    }
    out.set(svg[1]!, series);
  }
  return out;
}

function unescape(text: string): string {
  return text.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

describe('HTML report', () => {
  const html = renderReport(report);
  const all = charts(html);

  it('is one self-contained page: no scripts, no external resources', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    const addresses = [...html.matchAll(/https?:\/\/[^\s"'<]+/g)].map((m) => m[0]);
    expect(addresses.every((a) => a === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).toContain('a &lt;note&gt;');
  });

  it('draws throughput over time per system from each run\'s timeline', () => {
    const chart = all.get('throughput-over-time-bank-c16-s3')!;
    expect([...chart.keys()]).toEqual(['local', '2pc', 'percolator']);
    expect(chart.get('percolator')).toEqual([[1, 541], [2, 542], [3, 543]]);
    expect(all.get('throughput-over-time-bank-c4-s3')!.get('local')).toEqual([[1, 91], [2, 92], [3, 93]]);
  });

  it('draws the latency distribution from the histogram percentiles', () => {
    const chart = all.get('latency-distribution-bank-c4-s3')!;
    expect(chart.get('2pc')).toEqual([[0, 2], [1, 4], [2, 6], [3, 8]]);
    expect(html).toMatch(/>p99<\/text>/);
  });

  it('draws aborts by cause and anomalies per system', () => {
    const aborts = all.get('aborts-bank-c16-s3')!;
    expect(aborts.get('serialization')).toEqual([['local', 28], ['2pc', 0], ['percolator', 0]]);
    expect(aborts.get('write-conflict:locked')).toEqual([['local', 0], ['2pc', 20], ['percolator', 24]]);
    expect(all.get('anomalies-bank-c4-s3')!.get('anomalies')).toEqual([['local', 0], ['2pc', 5], ['percolator', 0]]);
  });

  it('draws the sweep curves against the swept parameter', () => {
    expect(all.get('sweep-throughput-bank')!.get('percolator')).toEqual([[4, 300], [16, 600]]);
    expect(all.get('sweep-cpu-bank')!.get('local')).toEqual([[4, 1.5], [16, 6]]);
    expect(all.get('sweep-p99-bank')!.get('2pc')).toEqual([[4, 18], [16, 45]]);
  });

  it('lists every run in the results table', () => {
    const rows = [...html.matchAll(/<tr><td>bank<\/td><td>([^<]+)<\/td><td>(\d+)<\/td>/g)].map((m) => `${m[1]}@${m[2]}`);
    expect(rows).toEqual(['local@4', '2pc@4', 'percolator@4', 'local@16', '2pc@16', 'percolator@16']);
  });

  it('with several rounds, charts each round apart and sweeps through the median of the rounds', () => {
    const rounds = renderReport({
      ...report,
      results: [...report.results, ...[['local', 4, 2], ['2pc', 4, 3], ['percolator', 4, 5], ['local', 16, 5], ['2pc', 16, 6], ['percolator', 16, 8]].map(([system, clients, scale]) => result(system as 'local', clients as number, scale as number, 2))],
    });
    const roundCharts = charts(rounds);
    expect(roundCharts.get('throughput-over-time-bank-c16-s3-r2')!.get('percolator')).toEqual([[1, 721], [2, 722], [3, 723]]);
    expect(roundCharts.get('throughput-over-time-bank-c16-s3-r1')!.get('percolator')).toEqual([[1, 541], [2, 542], [3, 543]]);
    expect(roundCharts.get('sweep-throughput-bank')!.get('percolator')).toEqual([[4, 400], [16, 700]]);
    expect(rounds).toMatch(/<tr><td>bank<\/td><td>percolator<\/td><td>2<\/td><td>16<\/td>/);
  });
});
