import { ycsbWorkload } from './ycsb-mix.js';

/** YCSB C, read only. */
export const ycsbC = ycsbWorkload('ycsb-c', { read: 1, update: 0, readModifyWrite: 0 });
