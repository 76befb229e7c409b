import type { Random } from './random.js';

/** Draws key ids in [0, keys): uniform, or Zipfian with `theta` (YCSB's generator, hot keys first). */
export interface KeyDistribution {
  readonly keys: number;
  next(random: Random): number;
}

export function uniformKeys(keys: number): KeyDistribution {
  return { keys, next: (random) => random.int(keys) };
}

/**
 * Zipfian over ranks 0..keys-1 (Gray et al., "Quickly generating
 * billion-record synthetic databases", as in YCSB's ZipfianGenerator);
 * valid for 0 < theta < 1. Rank 0 is the hottest key; placement hashes ids,
 * so hot keys are spread over the shards.
 */
export function zipfianKeys(keys: number, theta: number): KeyDistribution {
  if (!(theta > 0 && theta < 1)) throw new RangeError(`zipf theta must be in (0, 1), got ${theta}`);
  let zetan = 0;
  for (let i = 1; i <= keys; i++) zetan += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / keys, 1 - theta)) / (1 - zeta2 / zetan);
  const second = 1 + Math.pow(0.5, theta);
  return {
    keys,
    next(random) {
      const u = random.next();
      const uz = u * zetan;
      if (uz < 1) return 0;
      if (uz < second) return Math.min(1, keys - 1);
      return Math.min(keys - 1, Math.floor(keys * Math.pow(eta * u - eta + 1, alpha)));
    },
  };
}

export function keyDistribution(keys: number, zipfTheta: number): KeyDistribution {
  return zipfTheta > 0 ? zipfianKeys(keys, zipfTheta) : uniformKeys(keys);
}
