import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { createCliLogger } from '../src/logger.js';
import { openEnvironment } from './bench-environment.js';
import type { BenchOptions } from './bench-options.js';
import { Progress } from './progress.js';
import { renderReport } from './report/html-report.js';
import { formatResults } from './result-table.js';
import type { BenchReport, RunResult } from './run-result.js';
import { runOne } from './run-one.js';
import { rebalanceLines } from './rebalance-run.js';
import { workloads } from './workloads/index.js';
import { redactText } from '../src/redact.js';

export interface BenchIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Ctrl-C: stop measuring, clean up, report what was measured. */
  readonly signal?: AbortSignal;
  readonly command?: string;
}

/**
 * The benchmark: opens the environment (throwaway servers and oracle, or
 * the user's), then for every sweep point and workload runs each system
 * once per round (the systems taking turns), and prints the table (or the
 * JSON) and writes the report.
 */
export async function runBench(options: BenchOptions, io: BenchIo): Promise<BenchReport> {
  const logger = createCliLogger();
  const progress = new Progress(io.stderr);
  const environment = await openEnvironment(options, logger, (line) => progress.note(line));
  const results: RunResult[] = [];
  const points = options.sweep ? options.sweep.values.map((v) => ({ [options.sweep!.parameter]: v })) : [{}];
  let runIndex = 0;
  try {
    outer: for (const point of points) {
      const clients = point.clients ?? options.clients;
      const shards = point.shards ?? options.shards;
      for (const workloadName of options.workloads) {
        const workload = workloads[workloadName];
        const setting = `${workload.name} (${workload.summary}); ${clients} clients, ${shards} shard${shards > 1 ? 's' : ''}, ${options.keys} keys${options.zipf ? `, zipf ${options.zipf}` : ''}`;
        for (let round = 1; round <= options.rounds; round++) {
          progress.group(options.rounds > 1 ? `${setting}; round ${round} of ${options.rounds}` : setting);
          for (const system of options.systems) {
            if (io.signal?.aborted) break outer;
            const config = {
              system,
              workload,
              clients,
              processes: options.processes,
              shards,
              keys: options.keys,
              zipf: options.zipf,
              crossShardFraction: options.crossShardFraction,
              opsPerTxn: options.opsPerTxn,
              auditShare: options.auditShare,
              seed: options.seed,
              warmupS: options.warmupS,
              durationS: options.durationS,
              tableName: `bench_${workload.name.replace('-', '_')}_${process.pid}_${runIndex++}`,
              round,
              rebalanceAtS: options.rebalanceAtS,
            };
            results.push(await runOne(config, environment, progress, logger, io.signal));
          }
        }
      }
    }
  } finally {
    progress.stop();
    await environment.close();
  }

  const report: BenchReport = {
    command: redactText(io.command ?? 'percolator bench'),
    startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` },
    settings: {
      durationS: options.durationS,
      warmupS: options.warmupS,
      clients: options.clients,
      processes: options.processes,
      shards: options.shards,
      keys: options.keys,
      zipf: options.zipf,
      crossShardFraction: options.crossShardFraction ?? null,
      opsPerTxn: options.opsPerTxn,
      auditShare: options.auditShare,
      seed: options.seed,
      rounds: options.rounds,
      systems: options.systems,
      workloads: options.workloads,
      ownServers: !options.shardUrls,
      rebalanceAtS: options.rebalanceAtS ?? null,
      notes: environment.notes,
    },
    sweep: options.sweep ? { parameter: options.sweep.parameter, values: [...options.sweep.values] } : null,
    results,
  };
  const table = formatResults(results, environment.notes) + (options.rebalanceAtS !== undefined ? `\n${rebalanceLines(results)}` : '');
  if (options.json) {
    io.stderr.write(`\n${table}\n`);
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    io.stdout.write(`\n${table}\n`);
  }
  if (options.report) {
    await writeFile(options.report, renderReport(report));
    io.stderr.write(`report written to ${options.report}\n`);
  }
  return report;
}
