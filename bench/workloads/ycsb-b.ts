import { ycsbWorkload } from './ycsb-mix.js';

/** YCSB B, read mostly: 95% reads, 5% updates. */
export const ycsbB = ycsbWorkload('ycsb-b', { read: 0.95, update: 0.05, readModifyWrite: 0 });
