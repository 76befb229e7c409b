import { bank } from './bank.js';
import { scan } from './scan.js';
import type { Workload, WorkloadName } from './workload.js';
import { ycsbA } from './ycsb-a.js';
import { ycsbB } from './ycsb-b.js';
import { ycsbC } from './ycsb-c.js';
import { ycsbF } from './ycsb-f.js';

export const workloads: Record<WorkloadName, Workload> = {
  bank,
  'ycsb-a': ycsbA,
  'ycsb-b': ycsbB,
  'ycsb-c': ycsbC,
  'ycsb-f': ycsbF,
  scan,
};
