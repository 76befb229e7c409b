import { ycsbWorkload } from './ycsb-mix.js';

/** YCSB F: 50% reads, 50% read-modify-writes. */
export const ycsbF = ycsbWorkload('ycsb-f', { read: 0.5, update: 0, readModifyWrite: 0.5 });
