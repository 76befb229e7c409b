import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anomalyTypes, analyzeHistory, checkHistory } from './check-history.js';
import { simulate, type Program, type SimulatedIsolation } from './simulated-database.js';
import { simulatePercolator } from './simulated-percolator.js';

/**
 * The checker against an in-memory store with known concurrency control:
 * it must accept every history a correct store produces (no false alarms)
 * and fast-check must be able to find the anomalies a weaker store lets
 * through (it is not blind).
 */
const keys = ['a', 'b', 'c'] as const;

const program: fc.Arbitrary<Program> = fc.record({
  ops: fc.array(
    fc.record({ type: fc.constantFrom('append' as const, 'read' as const), key: fc.constantFrom(...keys) }),
    { minLength: 1, maxLength: 4 },
  ),
  ending: fc.constantFrom('commit' as const, 'commit' as const, 'commit' as const, 'abort' as const, 'undetermined' as const),
  undeterminedCommits: fc.boolean(),
});

const workload = fc.record({
  programs: fc.array(program, { minLength: 1, maxLength: 8 }),
  schedule: fc.array(fc.nat({ max: 7 }), { maxLength: 40 }),
});

const run = (isolation: SimulatedIsolation) => (w: { programs: Program[]; schedule: number[] }) =>
  simulate(w.programs, w.schedule, isolation);

describe('history checker, property-based', () => {
  it('accepts every serial history', () => {
    fc.assert(
      fc.property(fc.array(program, { minLength: 1, maxLength: 10 }), (programs) => {
        const history = simulate(programs, [], 'serializable');
        expect(analyzeHistory(history).anomalies).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts every history of a store with snapshot reads and commit-time read validation as serializable', () => {
    fc.assert(
      fc.property(workload, (w) => {
        const result = checkHistory(run('serializable')(w), 'serializable');
        expect(result.violations).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('accepts every history of a snapshot-isolated store as snapshot isolation', () => {
    fc.assert(
      fc.property(workload, (w) => {
        const result = checkHistory(run('snapshot')(w), 'snapshot');
        expect(result.violations).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('finds write skew in some snapshot-isolated history', () => {
    const claim = fc.property(workload, (w) => checkHistory(run('snapshot')(w), 'serializable').valid);
    const details = fc.check(claim, { numRuns: 2000, seed: 1 });
    expect(details.failed).toBe(true);
    const history = run('snapshot')(details.counterexample![0]);
    expect(anomalyTypes(analyzeHistory(history).anomalies)).toContain('G2-item');
  });

  it('finds anomalies snapshot isolation forbids in some read-committed history', () => {
    const claim = fc.property(workload, (w) => checkHistory(run('read-committed')(w), 'snapshot').valid);
    const details = fc.check(claim, { numRuns: 2000, seed: 1 });
    expect(details.failed).toBe(true);
  });

  it('gives the same verdict whatever the order transactions are listed in', () => {
    fc.assert(
      fc.property(workload, fc.nat(), (w, seed) => {
        const history = run('read-committed')(w);
        const shuffled = [...history].sort((a, b) => ((a.id * 7919 + seed) % 101) - ((b.id * 7919 + seed) % 101));
        expect(anomalyTypes(analyzeHistory(shuffled).anomalies)).toEqual(anomalyTypes(analyzeHistory(history).anomalies));
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * The protocol itself, as a step-by-step model (simulated-percolator.ts):
 * reads wait for locks, prewrite and commit go key by key, validation sits
 * between commit_ts and the primary's commit. Every interleaving must give
 * a snapshot-isolated history, a serializable one with validation (of the
 * keys read and not written, or of every key read), and
 * validation that ignores pending locks must be caught out.
 */
describe('the protocol model, property-based', () => {
  const modelWorkload = fc.record({
    programs: fc.array(
      fc.array(fc.record({ type: fc.constantFrom('append' as const, 'read' as const), key: fc.constantFrom(...keys) }), { minLength: 1, maxLength: 4 }),
      { minLength: 1, maxLength: 6 },
    ),
    schedule: fc.array(fc.nat({ max: 5 }), { maxLength: 60 }),
  });

  it('snapshot: every interleaving is snapshot isolated', () => {
    fc.assert(
      fc.property(modelWorkload, ({ programs, schedule }) => {
        expect(checkHistory(simulatePercolator(programs, schedule, { isolation: 'snapshot' }), 'snapshot').violations).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('serializable: every interleaving is serializable', () => {
    fc.assert(
      fc.property(modelWorkload, ({ programs, schedule }) => {
        expect(checkHistory(simulatePercolator(programs, schedule, { isolation: 'serializable' }), 'serializable').violations).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('serializable, validating also the keys a transaction wrote: every interleaving is serializable', () => {
    fc.assert(
      fc.property(modelWorkload, ({ programs, schedule }) => {
        expect(checkHistory(simulatePercolator(programs, schedule, { isolation: 'serializable', validateOwnWrites: true }), 'serializable').violations).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('serializable without the pending-lock rule: some interleaving is not serializable', () => {
    const claim = fc.property(modelWorkload, ({ programs, schedule }) =>
      checkHistory(simulatePercolator(programs, schedule, { isolation: 'serializable', pendingLocksConflict: false }), 'serializable').valid,
    );
    expect(fc.check(claim, { numRuns: 5000, seed: 7 }).failed).toBe(true);
  });
});
