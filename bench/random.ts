/**
 * Seeded pseudo-random numbers (mulberry32): every client of every run draws
 * from its own stream derived from `--seed`, so two runs with the same seed
 * ask for the same keys in the same order (up to the interleaving of clients).
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

export function seededRandom(seed: number, stream = 0): Random {
  let state = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n) };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A random printable string (YCSB fields are 100 random bytes). */
export function randomText(random: Random, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += LETTERS[random.int(LETTERS.length)];
  return out;
}
