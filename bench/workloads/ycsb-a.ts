import { ycsbWorkload } from './ycsb-mix.js';

/** YCSB A, update heavy: 50% reads, 50% updates. */
export const ycsbA = ycsbWorkload('ycsb-a', { read: 0.5, update: 0.5, readModifyWrite: 0 });
