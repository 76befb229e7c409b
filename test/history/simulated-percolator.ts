import type { Key, Op, Txn, Value } from './history.js';

/**
 * A step-by-step model of the protocol (DESIGN.md), to test the argument of
 * docs/ISOLATION.md rather than the code: transactions read at start_ts and
 * wait for locks that may commit below it, prewrite key by key (first
 * committer wins), take a commit_ts, validate their reads (serializable),
 * then commit the primary (the commit point) and the secondaries key by key,
 * each step interleaved with every other transaction's steps. Values are
 * whole lists, as in the list-append workload on the real client.
 *
 * `pendingLocksConflict: false` drops the rule that another transaction's
 * lock on a read key fails validation, to show that the rule is needed.
 * Validation leaves out keys the transaction also wrote, as the engine
 * does (its prewrite checked them from start_ts and its lock has kept
 * them since); `validateOwnWrites` checks them too, as before that rule.
 */
export interface ModelOptions {
  readonly isolation: 'snapshot' | 'serializable';
  readonly pendingLocksConflict?: boolean;
  readonly validateOwnWrites?: boolean;
}

export type ModelOp = { readonly type: 'append' | 'read'; readonly key: Key };

interface Version {
  readonly commitTs: number;
  readonly list: readonly Value[];
}

interface Lock {
  readonly owner: ModelTxn;
  readonly list: readonly Value[];
}

interface ModelTxn {
  readonly id: number;
  readonly program: readonly ModelOp[];
  startTs: number;
  commitTs: number;
  phase: 'new' | 'running' | 'prewriting' | 'validating' | 'committing' | 'done';
  next: number;
  readonly ops: Op[];
  readonly writes: Map<Key, Value[]>;
  readonly readKeys: Set<Key>;
  /** Keys still to prewrite / commit, primary first. */
  pending: Key[];
  committed: boolean;
}

export function simulatePercolator(programs: readonly (readonly ModelOp[])[], schedule: readonly number[], options: ModelOptions): Txn[] {
  const versions = new Map<Key, Version[]>();
  const locks = new Map<Key, Lock>();
  const history: Txn[] = [];
  let clock = 0;
  let nextValue = 1;
  const txns = programs.map<ModelTxn>((program, i) => ({
    id: i + 1,
    program,
    startTs: 0,
    commitTs: 0,
    phase: 'new',
    next: 0,
    ops: [],
    writes: new Map(),
    readKeys: new Set(),
    pending: [],
    committed: false,
  }));

  /** The value a reader at `ts` sees, or 'blocked' while a lock that may commit at or below ts is undecided. */
  const readAt = (key: Key, ts: number, reader: ModelTxn): readonly Value[] | 'blocked' => {
    const lock = locks.get(key);
    let visible = (versions.get(key) ?? []).filter((v) => v.commitTs <= ts).at(-1);
    if (lock && lock.owner !== reader && lock.owner.startTs <= ts) {
      // Lock resolution: a committed owner's lock is rolled forward; a live one is waited for.
      if (!lock.owner.committed) return 'blocked';
      if (lock.owner.commitTs <= ts && (!visible || visible.commitTs < lock.owner.commitTs)) visible = { commitTs: lock.owner.commitTs, list: lock.list };
    }
    return visible?.list ?? [];
  };

  const abort = (t: ModelTxn): void => {
    for (const [key, lock] of locks) if (lock.owner === t) locks.delete(key);
    t.phase = 'done';
    history.push({ id: t.id, outcome: 'fail', ops: t.ops });
  };

  const changedSince = (key: Key, t: ModelTxn, upTo: number): boolean => (versions.get(key) ?? []).some((v) => v.commitTs > t.startTs && v.commitTs <= upTo);

  const step = (t: ModelTxn): void => {
    switch (t.phase) {
      case 'new':
        t.startTs = ++clock;
        t.phase = 'running';
        return;
      case 'running': {
        const op = t.program[t.next];
        if (!op) {
          t.pending = [...t.writes.keys()];
          t.phase = t.pending.length === 0 ? 'done' : 'prewriting';
          if (t.phase === 'done') history.push({ id: t.id, outcome: 'ok', ops: t.ops });
          return;
        }
        const own = t.writes.get(op.key);
        const current = own ?? readAt(op.key, t.startTs, t);
        if (current === 'blocked') return;
        t.next += 1;
        t.readKeys.add(op.key);
        t.ops.push({ type: 'read', key: op.key, value: [...current] });
        if (op.type === 'append') {
          const value = nextValue++;
          t.writes.set(op.key, [...current, value]);
          t.ops.push({ type: 'append', key: op.key, value });
        }
        return;
      }
      case 'prewriting': {
        const key = t.pending.find((k) => locks.get(k)?.owner !== t);
        if (key === undefined) {
          t.commitTs = ++clock;
          t.phase = 'validating';
          return;
        }
        const newer = (versions.get(key) ?? []).some((v) => v.commitTs >= t.startTs);
        if (newer || locks.has(key)) return abort(t);
        locks.set(key, { owner: t, list: t.writes.get(key)! });
        return;
      }
      case 'validating': {
        if (options.isolation === 'serializable') {
          for (const key of t.readKeys) {
            if (t.writes.has(key) && !options.validateOwnWrites) continue;
            const lock = locks.get(key);
            const locked = lock && lock.owner !== t && lock.owner.startTs < t.commitTs && (options.pendingLocksConflict ?? true);
            // A lock whose owner already committed stands for its version (not yet rolled forward).
            const lockVersion = lock && lock.owner !== t && lock.owner.committed && lock.owner.commitTs > t.startTs && lock.owner.commitTs <= t.commitTs;
            if (changedSince(key, t, t.commitTs) || locked || lockVersion) return abort(t);
          }
        }
        t.phase = 'committing';
        return;
      }
      case 'committing': {
        const key = t.pending.shift()!;
        const lock = locks.get(key)!;
        locks.delete(key);
        versions.set(key, [...(versions.get(key) ?? []), { commitTs: t.commitTs, list: lock.list }].sort((a, b) => a.commitTs - b.commitTs));
        if (!t.committed) {
          // The primary: the commit point.
          t.committed = true;
          history.push({ id: t.id, outcome: 'ok', ops: t.ops });
        }
        if (t.pending.length === 0) t.phase = 'done';
        return;
      }
      case 'done':
        return;
    }
  };

  for (const index of schedule) {
    const t = txns[index % Math.max(1, txns.length)];
    if (t) step(t);
  }
  // Run everything to the end; blocked readers wait for committers, which never block.
  for (let guard = 0; txns.some((t) => t.phase !== 'done'); guard += 1) {
    if (guard > 100_000) throw new Error('model did not terminate');
    for (const t of txns) step(t);
  }

  const finalOps: Op[] = [...versions.keys()].sort().map((key) => ({ type: 'read', key, value: [...(versions.get(key)!.at(-1)?.list ?? [])] }));
  history.push({ id: programs.length + 1, outcome: 'ok', ops: finalOps, final: true });
  return history;
}
