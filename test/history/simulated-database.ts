import type { Key, Op, Outcome, Txn, Value } from './history.js';

/**
 * A tiny in-memory multiversion list store, used only to test the checker:
 * it runs transaction programs under a given interleaving with a chosen
 * concurrency control and records the history a real client would.
 *
 * - serializable: snapshot reads, first committer wins on written keys, and
 *   commit-time read validation (any key read changed since the snapshot
 *   aborts), the scheme the engine implements;
 * - snapshot: snapshot reads, first committer wins on written keys;
 * - read-committed: every read sees the latest commit, no conflict checks
 *   (a deliberately broken store: its histories must not all pass).
 */
export type SimulatedIsolation = 'serializable' | 'snapshot' | 'read-committed';

export type ProgramOp = { readonly type: 'append'; readonly key: Key } | { readonly type: 'read'; readonly key: Key };

export interface Program {
  readonly ops: readonly ProgramOp[];
  /** What happens at the end if the store lets it commit: commit, abort on purpose, or lose the answer (info). */
  readonly ending: 'commit' | 'abort' | 'undetermined';
  /** For an undetermined commit: whether it actually took effect. */
  readonly undeterminedCommits?: boolean;
}

interface Version {
  readonly commitTs: number;
  readonly list: readonly Value[];
}

interface Running {
  readonly id: number;
  readonly program: Program;
  startTs: number;
  next: number;
  readonly ops: Op[];
  readonly buffered: Map<Key, Value[]>;
  readonly readKeys: Set<Key>;
}

/**
 * Runs `programs`; `schedule` lists program indices, each entry letting that
 * transaction take its next step (begin with its first op, one op, or commit).
 * Transactions not finished when the schedule runs out then run to the end
 * in order. Returns the history, ending with a quiescent final read of every key.
 */
export function simulate(programs: readonly Program[], schedule: readonly number[], isolation: SimulatedIsolation): Txn[] {
  const store = new Map<Key, Version[]>();
  let clock = 0;
  let nextValue = 1;
  const history: Txn[] = [];
  const running = programs.map<Running>((program, i) => ({
    id: i + 1,
    program,
    startTs: -1,
    next: 0,
    ops: [],
    buffered: new Map(),
    readKeys: new Set(),
  }));

  const latest = (key: Key, ts: number): Version | undefined => (store.get(key) ?? []).filter((v) => v.commitTs <= ts).at(-1);

  const finish = (t: Running, outcome: Outcome, apply: boolean): void => {
    if (apply) {
      clock += 1;
      for (const [key, values] of t.buffered) {
        const versions = store.get(key) ?? [];
        versions.push({ commitTs: clock, list: [...(versions.at(-1)?.list ?? []), ...values] });
        store.set(key, versions);
      }
    }
    history.push({ id: t.id, outcome, ops: t.ops });
  };

  const commit = (t: Running): void => {
    const changedSince = (key: Key): boolean => (store.get(key) ?? []).some((v) => v.commitTs > t.startTs);
    const writeConflict = isolation !== 'read-committed' && [...t.buffered.keys()].some(changedSince);
    const readConflict = isolation === 'serializable' && t.buffered.size > 0 && [...t.readKeys].some(changedSince);
    if (writeConflict || readConflict || t.program.ending === 'abort') return finish(t, 'fail', false);
    if (t.program.ending === 'undetermined') return finish(t, 'info', t.program.undeterminedCommits ?? false);
    finish(t, 'ok', true);
  };

  const step = (t: Running): void => {
    if (t.next > t.program.ops.length) return;
    if (t.startTs < 0) t.startTs = clock;
    const op = t.program.ops[t.next];
    t.next += 1;
    if (!op) return commit(t);
    const own = t.buffered.get(op.key) ?? [];
    if (op.type === 'append') {
      const value = nextValue++;
      t.buffered.set(op.key, [...own, value]);
      t.ops.push({ type: 'append', key: op.key, value });
    } else {
      const readTs = isolation === 'read-committed' ? clock : t.startTs;
      t.readKeys.add(op.key);
      t.ops.push({ type: 'read', key: op.key, value: [...(latest(op.key, readTs)?.list ?? []), ...own] });
    }
  };

  for (const index of schedule) {
    const t = running[index % Math.max(1, running.length)];
    if (t) step(t);
  }
  for (const t of running) while (t.next <= t.program.ops.length) step(t);

  const finalOps: Op[] = [...store.keys()].sort().map((key) => ({ type: 'read', key, value: latest(key, clock)?.list ?? [] }));
  history.push({ id: programs.length + 1, outcome: 'ok', ops: finalOps, final: true });
  return history;
}
