import type { SystemAdapter, SystemName } from '../systems/system';
import type { Sizes } from '../config';
import type { EngineKind } from '../support/redis';

export type WorkloadId = 'P1' | 'P2' | 'P3' | 'P4' | 'P5' | 'P6';

/** One system's figures for one workload, keyed by RowSpec.key; `na` says why there are none. */
export interface Measurement {
  values: Record<string, number>;
  notes: string[];
  na?: string;
}

export type Figures = Partial<Record<SystemName, number>>;

/** One line of a workload's table. */
export interface RowSpec {
  key: string;
  label: string;
  /** Which direction is better, for ratios; 'none' prints no ratio. */
  better: 'higher' | 'lower' | 'none';
  digits: number;
  /** Herald's target for this line, checked on this run's figures (undefined = cannot tell). */
  target?: { text: string; met(f: Figures): boolean | undefined };
}

export interface RunContext {
  sizes: Sizes;
  log(message: string): void;
}

export interface Workload {
  id: WorkloadId;
  title(sizes: Sizes): string;
  rows(sizes: Sizes): RowSpec[];
  /** Engines the workload runs each system on (default: one Redis); a system without one is not measured. */
  engines?: readonly EngineKind[];
  /** How many times it starts a system, one after the other (its time budget is per start; default 1). */
  starts?: number;
  run(adapter: SystemAdapter, ctx: RunContext): Promise<Measurement>;
}
