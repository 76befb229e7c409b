import type { RunRecorder } from './run-recorder.js';

const TTY_REFRESH_MS = 250;
const PLAIN_EVERY_MS = 2000;

/**
 * Live progress on stderr (stdout stays clean for --json): on a terminal one
 * line updated in place (system, phase, elapsed, current throughput, aborts
 * so far); otherwise a plain line every two seconds.
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lineOpen = false;
  private readonly finished: string[] = [];
  private readonly startedAt = performance.now();

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly enabled = true,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  /** A one-off message (starting servers, loading rows). */
  note(message: string): void {
    if (!this.enabled) return;
    this.clearLine();
    this.out.write(`${this.stamp()}${message}\n`);
  }

  /** Time since the benchmark started, so that logs show where the time goes. */
  private stamp(): string {
    return `[${((performance.now() - this.startedAt) / 1000).toFixed(1).padStart(5)}s] `;
  }

  track(label: string, recorder: RunRecorder, warmupS: number, durationS: number): void {
    this.stop();
    if (!this.enabled) return;
    const started = performance.now();
    let last = { at: started, commits: 0 };
    let rate = 0;
    const tick = (): void => {
      const now = performance.now();
      if (now - last.at >= 900) {
        rate = ((recorder.liveCommits - last.commits) * 1000) / (now - last.at);
        last = { at: now, commits: recorder.liveCommits };
      }
      const elapsed = (now - started) / 1000;
      const phase = recorder.isMeasuring || elapsed >= warmupS ? `measure ${fmt(recorder.measuredSeconds(now))}/${durationS}s` : `warm-up ${fmt(elapsed)}/${warmupS}s`;
      const aborts = Object.entries(recorder.abortsByCause)
        .sort(([, a], [, b]) => b - a)
        .map(([cause, n]) => `${cause} ${n}`)
        .join(', ');
      const line = `${label}  ${phase}  ${Math.round(rate).toLocaleString('en-US')} txn/s  aborts ${recorder.aborts}${aborts ? ` (${aborts})` : ''}${recorder.anomalies ? `  anomalies ${recorder.anomalies}` : ''}`;
      const done = this.finished.length ? `   | ${this.finished.join(' | ')}` : '';
      if (this.tty) {
        this.out.write(`\r\x1b[2K${truncate(line + done, this.width())}`);
        this.lineOpen = true;
      } else {
        this.out.write(`${this.stamp()}${line}\n`);
      }
    };
    this.timer = setInterval(tick, this.tty ? TTY_REFRESH_MS : PLAIN_EVERY_MS);
    this.timer.unref();
  }

  /** Ends the live line of a system with its final figure, kept in the line of the next systems. */
  done(summary: string): void {
    this.stop();
    if (!this.enabled) return;
    this.finished.push(summary);
    this.clearLine();
    this.out.write(`${this.stamp()}done: ${summary}\n`);
  }

  /** A new group of runs (workload, sweep point): the running summary starts over. */
  group(title: string): void {
    this.finished.length = 0;
    this.note(title);
  }

  /** Terminal width; a pseudo-terminal may report 0 columns. */
  private width(): number {
    const columns = (this.out as { columns?: number }).columns ?? 0;
    return columns >= 40 ? columns : 120;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  clearLine(): void {
    if (this.lineOpen) this.out.write('\r\x1b[2K');
    this.lineOpen = false;
  }
}

function fmt(seconds: number): string {
  return seconds.toFixed(1);
}

function truncate(text: string, width: number): string {
  return text.length < width ? text : `${text.slice(0, Math.max(10, width - 2))}…`;
}
