import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

const PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100];
const SAMPLES_KEPT = 5;

/**
 * Counts what the clients do while the run is measured; everything before
 * `startMeasuring()` (the warm-up) and after `stopMeasuring()` is dropped.
 * Latencies go into an HDR histogram in microseconds.
 */
export class RunRecorder {
  private measuring = false;
  private startedAt = 0;
  private stoppedAt = 0;
  private readonly histogram = newHistogram();
  /** The same per kind of transaction (transfer, audit, read, ...): a mix's average hides its slow kind. */
  private readonly histogramByKind = new Map<string, Histogram>();
  commits = 0;
  readonly commitsByKind: Record<string, number> = {};
  aborts = 0;
  readonly abortsByCause: Record<string, number> = {};
  gaveUp = 0;
  errors = 0;
  readonly errorSamples: string[] = [];
  anomalies = 0;
  readonly anomalySamples: string[] = [];
  private readonly commitsPerSecond: number[] = [];
  private readonly abortsPerSecond: number[] = [];
  /** Live counters for progress lines (counted during warm-up too). */
  liveCommits = 0;
  liveAborts = 0;

  get isMeasuring(): boolean {
    return this.measuring;
  }

  startMeasuring(now = performance.now()): void {
    this.measuring = true;
    this.startedAt = now;
  }

  stopMeasuring(now = performance.now()): void {
    this.measuring = false;
    this.stoppedAt = now;
  }

  /** Seconds measured so far (or in total, once stopped). */
  measuredSeconds(now = performance.now()): number {
    if (this.startedAt === 0) return 0;
    return ((this.measuring ? now : this.stoppedAt) - this.startedAt) / 1000;
  }

  commit(kind: string, latencyMs: number, now = performance.now()): void {
    this.liveCommits++;
    if (!this.measuring) return;
    this.commits++;
    this.commitsByKind[kind] = (this.commitsByKind[kind] ?? 0) + 1;
    const us = Math.max(1, Math.round(latencyMs * 1000));
    this.histogram.recordValue(us);
    let byKind = this.histogramByKind.get(kind);
    if (!byKind) this.histogramByKind.set(kind, (byKind = newHistogram()));
    byKind.recordValue(us);
    bump(this.commitsPerSecond, this.second(now));
  }

  abort(cause: string, now = performance.now()): void {
    this.liveAborts++;
    if (!this.measuring) return;
    this.aborts++;
    this.abortsByCause[cause] = (this.abortsByCause[cause] ?? 0) + 1;
    bump(this.abortsPerSecond, this.second(now));
  }

  giveUp(): void {
    if (this.measuring) this.gaveUp++;
  }

  error(message: string): void {
    if (!this.measuring) return;
    this.errors++;
    if (this.errorSamples.length < SAMPLES_KEPT && !this.errorSamples.includes(message)) this.errorSamples.push(message);
  }

  anomaly(description: string): void {
    if (!this.measuring) return;
    this.anomalies++;
    if (this.anomalySamples.length < SAMPLES_KEPT) this.anomalySamples.push(description);
  }

  latency(): { p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; meanMs: number; percentiles: { percentile: number; ms: number }[] } {
    const ms = (us: number): number => round3(us / 1000);
    const empty = this.histogram.totalCount === 0;
    // HDR answers a bucket's highest equivalent value, which may exceed the largest value recorded.
    const at = (p: number): number => (empty ? 0 : ms(Math.min(this.histogram.getValueAtPercentile(p), this.histogram.maxValue)));
    return {
      p50Ms: at(50),
      p95Ms: at(95),
      p99Ms: at(99),
      maxMs: empty ? 0 : ms(this.histogram.maxValue),
      meanMs: empty ? 0 : ms(this.histogram.mean),
      percentiles: PERCENTILES.map((percentile) => ({ percentile, ms: percentile === 100 ? (empty ? 0 : ms(this.histogram.maxValue)) : at(percentile) })),
    };
  }

  /** p50/p99 latency of each kind of transaction. */
  latencyByKind(): Record<string, { p50Ms: number; p99Ms: number }> {
    const out: Record<string, { p50Ms: number; p99Ms: number }> = {};
    for (const [kind, h] of this.histogramByKind) {
      const at = (p: number): number => round3(Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000);
      out[kind] = { p50Ms: at(50), p99Ms: at(99) };
    }
    return out;
  }

  /**
   * Seconds of the measured window, each with its commits and aborts. The
   * window's timer may end a few ms short of its length: round, not floor,
   * so a 2 s window has two points.
   */
  timeline(): { t: number; throughput: number; aborts: number }[] {
    const seconds = Math.round(this.measuredSeconds());
    return Array.from({ length: seconds }, (_, t) => ({ t: t + 1, throughput: this.commitsPerSecond[t] ?? 0, aborts: this.abortsPerSecond[t] ?? 0 }));
  }

  /** What a client process measured, for the parent to absorb (--processes). */
  snapshot(): RecorderSnapshot {
    return {
      histogram: hdr.encodeIntoCompressedBase64(this.histogram),
      byKind: Object.fromEntries([...this.histogramByKind].map(([kind, h]) => [kind, hdr.encodeIntoCompressedBase64(h)])),
      commits: this.commits,
      commitsByKind: this.commitsByKind,
      aborts: this.aborts,
      abortsByCause: this.abortsByCause,
      gaveUp: this.gaveUp,
      errors: this.errors,
      errorSamples: this.errorSamples,
      anomalies: this.anomalies,
      anomalySamples: this.anomalySamples,
      commitsPerSecond: this.commitsPerSecond,
      abortsPerSecond: this.abortsPerSecond,
    };
  }

  /** Adds another process's measurements of the same window to this one's. */
  absorb(other: RecorderSnapshot): void {
    this.histogram.add(hdr.decodeFromCompressedBase64(other.histogram));
    for (const [kind, encoded] of Object.entries(other.byKind)) {
      let byKind = this.histogramByKind.get(kind);
      if (!byKind) this.histogramByKind.set(kind, (byKind = newHistogram()));
      byKind.add(hdr.decodeFromCompressedBase64(encoded));
    }
    this.commits += other.commits;
    this.aborts += other.aborts;
    this.gaveUp += other.gaveUp;
    this.errors += other.errors;
    this.anomalies += other.anomalies;
    addCounts(this.commitsByKind, other.commitsByKind);
    addCounts(this.abortsByCause, other.abortsByCause);
    for (const sample of other.errorSamples) if (this.errorSamples.length < SAMPLES_KEPT && !this.errorSamples.includes(sample)) this.errorSamples.push(sample);
    for (const sample of other.anomalySamples) if (this.anomalySamples.length < SAMPLES_KEPT) this.anomalySamples.push(sample);
    other.commitsPerSecond.forEach((n, i) => bump(this.commitsPerSecond, i, n));
    other.abortsPerSecond.forEach((n, i) => bump(this.abortsPerSecond, i, n));
  }

  private second(now: number): number {
    return Math.floor((now - this.startedAt) / 1000);
  }
}

function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

function bump(counts: number[], index: number, by = 1): void {
  while (counts.length <= index) counts.push(0);
  counts[index]! += by;
}

function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

/** A RunRecorder's measurements as plain data (histograms HDR-encoded). */
export interface RecorderSnapshot {
  readonly histogram: string;
  readonly byKind: Readonly<Record<string, string>>;
  readonly commits: number;
  readonly commitsByKind: Readonly<Record<string, number>>;
  readonly aborts: number;
  readonly abortsByCause: Readonly<Record<string, number>>;
  readonly gaveUp: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly anomalies: number;
  readonly anomalySamples: readonly string[];
  readonly commitsPerSecond: readonly number[];
  readonly abortsPerSecond: readonly number[];
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
