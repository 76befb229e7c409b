import type { Fault } from './nemesis.js';

/** Time from each fault's heal to the first transaction acknowledged after it (undefined: none was). */
export function recoveryTimes(faults: readonly Fault[], acknowledgedAt: readonly number[]): Array<number | undefined> {
  const sorted = [...acknowledgedAt].sort((a, b) => a - b);
  return faults.map((f) => {
    const first = sorted.find((t) => t >= f.healedAt);
    return first === undefined ? undefined : first - f.healedAt;
  });
}

export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export interface Recovery {
  /** Faults counted. */
  faults: number;
  p50: number | undefined;
  max: number | undefined;
  /** Faults after which no transaction was acknowledged. */
  unrecovered: number;
  /** Loss and delay: the traffic they touched, summed (segments dropped, chunks delayed). */
  hits?: number;
}

function recovery(faults: readonly Fault[], acknowledgedAt: readonly number[]): Recovery {
  const times = recoveryTimes(faults, acknowledgedAt);
  const recovered = times.filter((t): t is number => t !== undefined);
  const withHits = faults.filter((f) => f.hits !== undefined);
  return {
    faults: faults.length,
    p50: percentile(recovered, 50),
    max: recovered.length === 0 ? undefined : Math.max(...recovered),
    unrecovered: times.length - recovered.length,
    ...(withHits.length === 0 ? {} : { hits: withHits.reduce((sum, f) => sum + f.hits!, 0) }),
  };
}

/** Recovery after every fault, and after each kind of fault apart (kinds in order of first injection). */
export function recoverySummary(faults: readonly Fault[], acknowledgedAt: readonly number[]): { all: Recovery; byKind: Record<string, Recovery> } {
  const byKind: Record<string, Recovery> = {};
  for (const kind of new Set(faults.map((f) => f.kind))) {
    byKind[kind] = recovery(
      faults.filter((f) => f.kind === kind),
      acknowledgedAt,
    );
  }
  return { all: recovery(faults, acknowledgedAt), byKind };
}
