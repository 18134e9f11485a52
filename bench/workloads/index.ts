import { p1 } from './p1-personal';
import { p2 } from './p2-fanout';
import { p3 } from './p3-memory';
import { p4 } from './p4-batch';
import { p5 } from './p5-connections';
import { p6 } from './p6-scale-out';
import type { Workload } from './workload';

export const WORKLOADS: readonly Workload[] = [p1, p2, p3, p4, p5, p6];
