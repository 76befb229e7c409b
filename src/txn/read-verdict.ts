import { performance } from 'node:perf_hooks';
import type { KeyTexts } from '../shard/key-text.js';

/** What a read that met locks must do: keep its rows, read these keys again, or read everything again. */
export type ReadVerdict = { kind: 'rows-stand' } | { kind: 'read-keys-again'; keys: KeyTexts[] } | { kind: 'read-again' };

export const ROWS_STAND: ReadVerdict = { kind: 'rows-stand' };

/** One verdict for several groups of locks: the read runs again if any needs it, else the union of keys to read again. */
export function mergeVerdicts(verdicts: readonly ReadVerdict[]): ReadVerdict {
  if (verdicts.some((v) => v.kind === 'read-again')) return { kind: 'read-again' };
  const keys = verdicts.flatMap((v) => (v.kind === 'read-keys-again' ? v.keys : []));
  return keys.length > 0 ? { kind: 'read-keys-again', keys } : ROWS_STAND;
}

/** `promise`'s value if it settles before `deadline` (performance.now() ms), else undefined. */
export async function within<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  const ms = deadline - performance.now();
  if (ms <= 0) return Promise.race([promise, Promise.resolve(undefined)]);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
