import { spawn } from 'node:child_process';
import { compiledPath } from '../../../src/package-root.js';

/** One successful call: sent and answered (CLOCK_MONOTONIC ns), and the range [first, first + count). */
export interface RangeRecord {
  sentNs: bigint;
  receivedNs: bigint;
  first: bigint;
  count: number;
}

export interface ClientRun {
  records: RangeRecord[];
  errors: Record<string, number>;
}

export interface HistoryClientOptions {
  addresses: string[];
  callers: number;
  durationMs: number;
  maxCount: number;
  deadlineMs?: number;
  token?: string;
}

/**
 * Starts test/oracle/fixtures/history-client in its own node process (from
 * dist/). `answered` resolves once its first call succeeded (load is
 * flowing), `done` with everything it recorded.
 */
export function startHistoryClient(options: HistoryClientOptions): { answered: Promise<void>; done: Promise<ClientRun> } {
  const child = spawn(process.execPath, [compiledPath('test/oracle/fixtures/history-client'), JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markAnswered: () => void = () => {};
  const answered = new Promise<void>((resolve) => (markAnswered = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.startsWith('answered\n')) markAnswered();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const done = new Promise<ClientRun>((resolve, reject) => {
    child.once('error', reject);
    // 'close', not 'exit': 'exit' can fire before the pipes are drained, and
    // then the final JSON line has not arrived yet.
    child.once('close', (code, signal) => {
      markAnswered();
      if (code !== 0) return reject(new Error(`history client exited with ${code ?? signal}: ${stderr}`));
      try {
        const parsed = JSON.parse(stdout.trim().split('\n').pop()!) as { records: string[]; errors: Record<string, number> };
        resolve({
          errors: parsed.errors,
          records: parsed.records.map((line) => {
            const [sent, received, first, count] = line.split(',');
            return { sentNs: BigInt(sent!), receivedNs: BigInt(received!), first: BigInt(first!), count: Number(count) };
          }),
        });
      } catch (error) {
        reject(new Error(`history client printed no report (${String(error)}); stdout ends ${JSON.stringify(stdout.slice(-200))}, stderr: ${stderr}`));
      }
    });
  });
  return { answered, done };
}

export function runHistoryClient(options: HistoryClientOptions): Promise<ClientRun> {
  return startHistoryClient(options).done;
}

/**
 * The oracle's promise, checked over calls from any number of processes:
 * 1. ranges never overlap (every timestamp is handed out at most once);
 * 2. if call A was answered before call B was sent, all of A is below all of B.
 * Returns descriptions of violations (empty when the history is good).
 */
export function checkHistory(records: RangeRecord[]): string[] {
  const violations: string[] = [];
  const byFirst = [...records].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (let i = 1; i < byFirst.length; i++) {
    const previous = byFirst[i - 1]!;
    if (previous.first + BigInt(previous.count) > byFirst[i]!.first) {
      violations.push(`overlap: [${previous.first}+${previous.count}) and [${byFirst[i]!.first}+${byFirst[i]!.count})`);
    }
  }
  const byReceived = [...records].sort((a, b) => (a.receivedNs < b.receivedNs ? -1 : a.receivedNs > b.receivedNs ? 1 : 0));
  const bySent = [...records].sort((a, b) => (a.sentNs < b.sentNs ? -1 : a.sentNs > b.sentNs ? 1 : 0));
  let highestAnswered = -1n;
  let answered: RangeRecord | undefined;
  let j = 0;
  for (const b of bySent) {
    while (j < byReceived.length && byReceived[j]!.receivedNs < b.sentNs) {
      const a = byReceived[j++]!;
      const last = a.first + BigInt(a.count) - 1n;
      if (last > highestAnswered) {
        highestAnswered = last;
        answered = a;
      }
    }
    if (b.first <= highestAnswered) {
      violations.push(`real-time order: a call answered before another was sent got ${answered!.first}+${answered!.count}, the later call got ${b.first}`);
      if (violations.length > 20) break;
    }
  }
  return violations;
}
