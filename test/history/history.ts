/**
 * The history model of the list-append workload (Jepsen Elle's): each key
 * holds a list; a transaction appends values to lists and reads whole lists.
 * Every (key, value) is appended at most once in a history, so a read tells
 * exactly which appends it saw and in what order.
 */

export type Key = string;
export type Value = number;

export interface AppendOp {
  readonly type: 'append';
  readonly key: Key;
  readonly value: Value;
}

export interface ReadOp {
  readonly type: 'read';
  readonly key: Key;
  /** The list read, oldest append first; null when the client never learnt it. */
  readonly value: readonly Value[] | null;
}

export type Op = AppendOp | ReadOp;

/**
 * ok: committed. fail: surely aborted, nothing of it is visible.
 * info: unknown (e.g. commit undetermined): it may or may not have committed.
 */
export type Outcome = 'ok' | 'fail' | 'info';

export interface Txn {
  /** Unique within the history; used in every report. */
  readonly id: number;
  readonly outcome: Outcome;
  readonly ops: readonly Op[];
  /**
   * A read-only transaction run after every other transaction had finished
   * (quiescent final read): each committed append to a key it reads must be
   * in its read, or that append was lost.
   */
  readonly final?: boolean;
  /** Where it came from, for reading a failed check (e.g. start timestamp, process); ignored by the checker. */
  readonly note?: string;
}

export type History = readonly Txn[];

export function append(key: Key, value: Value): AppendOp {
  return { type: 'append', key, value };
}

export function read(key: Key, value: readonly Value[] | null): ReadOp {
  return { type: 'read', key, value };
}

export function ok(id: number, ...ops: Op[]): Txn {
  return { id, outcome: 'ok', ops };
}

export function fail(id: number, ...ops: Op[]): Txn {
  return { id, outcome: 'fail', ops };
}

export function info(id: number, ...ops: Op[]): Txn {
  return { id, outcome: 'info', ops };
}

export function finalRead(id: number, ...ops: ReadOp[]): Txn {
  return { id, outcome: 'ok', ops, final: true };
}
