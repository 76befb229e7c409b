import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../bench/report/html-report.js';
import type { BenchReport } from '../../bench/run-result.js';
import { runResult } from '../support/run-results.js';

const execFileAsync = promisify(execFile);

/**
 * The `--report` page in a real browser: Debian's `chromium` (.ci/run
 * installs it), headless. The page itself has no script; a copy of it gets
 * one that measures what the browser drew for every chart (each series'
 * points, circles or bars, and its box on screen), and Chromium's DOM dump
 * carries the answer out. Console messages (errors included) go to
 * Chromium's stderr with --enable-logging.
 */

const CHROMIUM = process.env.CHROMIUM_BIN ?? 'chromium';

const report: BenchReport = {
  command: 'percolator bench --sweep clients=4,16 --rounds 2 --report r.html',
  startedAt: '2026-12-07T00:00:00.000Z',
  machine: { cpus: 2, node: 'v20', platform: 'linux' },
  settings: { notes: ['a note'] },
  sweep: { parameter: 'clients', values: [4, 16] },
  results: (['local', '2pc', 'percolator'] as const).flatMap((system, s) =>
    [4, 16].flatMap((clients, c) => [1, 2].map((round) => runResult(system, clients, 1 + s + 3 * c + round, round))),
  ),
};

interface DrawnSeries {
  name: string;
  /** Values that should be drawn: every point of a line, every non-zero bar. */
  values: number;
  drawn: number;
  width: number;
  height: number;
}

const MEASURE = `<script>
const charts = [...document.querySelectorAll('svg[data-chart]')].map((svg) => ({
  id: svg.dataset.chart,
  series: [...svg.querySelectorAll('g.series')].map((g) => {
    const box = g.getBBox();
    const line = g.querySelector('polyline');
    const values = JSON.parse(g.dataset.values);
    // A bar of zero height is not drawn.
    return { name: g.dataset.series, values: line ? values.length : values.filter(([, v]) => v !== 0).length,
      drawn: line ? line.points.numberOfItems : g.querySelectorAll('rect').length, width: box.width, height: box.height };
  }),
}));
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify(charts);
document.body.append(out);
</script>`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function chromium(file: string, ...flags: string[]): Promise<{ stdout: string; stderr: string }> {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${path.join(dir, 'profile')}`, ...flags, `file://${file}`];
  try {
    return await execFileAsync(CHROMIUM, args, { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${CHROMIUM} not found: install Debian's chromium package (.ci/run does), or set CHROMIUM_BIN`);
    }
    throw error;
  }
}

/** Console messages Chromium logged for the page (any level: the report has no script, so none is expected). */
function consoleMessages(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /:CONSOLE|Uncaught/.test(line));
}

function page(name: string, html: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, html);
  return file;
}

describe('HTML report in headless Chromium', () => {
  const html = renderReport(report);

  it('opens without console messages', async () => {
    const { stderr } = await chromium(page('report.html', html), '--enable-logging=stderr', '--v=0', '--dump-dom');
    expect(consoleMessages(stderr)).toEqual([]);
  }, 120_000);

  it('notices console errors (the check above can fail)', async () => {
    const broken = html.replace('</body>', '<script>console.error("boom"); undefinedFunction();</script></body>');
    const { stderr } = await chromium(page('broken.html', broken), '--enable-logging=stderr', '--v=0', '--dump-dom');
    expect(consoleMessages(stderr).join('\n')).toMatch(/boom/);
  }, 120_000);

  it('draws every data point of every chart', async () => {
    const { stdout } = await chromium(page('measured.html', html.replace('</body>', `${MEASURE}</body>`)), '--dump-dom');
    const text = /<pre id="measured">([\s\S]*?)<\/pre>/.exec(stdout)?.[1];
    expect(text, 'the measuring script ran').toBeDefined();
    const charts = JSON.parse(text!.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&')) as { id: string; series: DrawnSeries[] }[];
    // Per round and configuration: throughput over time, latency, aborts, anomalies; the sweep's three curves.
    expect(charts.length).toBe(2 * 2 * 4 + 3);
    for (const chart of charts) {
      expect(chart.series.reduce((n, s) => n + s.drawn, 0), `${chart.id} has data points`).toBeGreaterThan(0);
      for (const series of chart.series) {
        expect(series.drawn, `${chart.id} ${series.name}: one point or bar per value`).toBe(series.values);
        if (series.drawn > 0) expect(series.width + series.height, `${chart.id} ${series.name}: drawn on screen`).toBeGreaterThan(0);
      }
    }
  }, 120_000);
});
