import type { Figures, RowSpec } from './workload';

type Target = NonNullable<RowSpec['target']>;

/** Herald's figure against a bound of its own. */
export function heraldAtMost(bound: number, text = `≤ ${bound}`): Target {
  return { text, met: (f: Figures) => (f.herald === undefined ? undefined : f.herald <= bound) };
}

export function heraldAtLeast(bound: number, text = `≥ ${bound}`): Target {
  return { text, met: (f: Figures) => (f.herald === undefined ? undefined : f.herald >= bound) };
}

/** Herald ≥ factor × another system's figure (higher is better). */
export function atLeastTimes(other: 'peer' | 'floor', factor: number): Target {
  return {
    text: `≥ ${factor}× ${other}`,
    met: (f: Figures) =>
      f.herald === undefined || f[other] === undefined ? undefined : f.herald >= factor * f[other],
  };
}

/** Herald ≤ factor × other systems' figures (lower is better), all of them. */
export function atMostTimes(bounds: Array<['peer' | 'floor', number]>): Target {
  return {
    text: bounds.map(([other, factor]) => (factor === 1 ? `≤ ${other}` : `≤ ${factor}× ${other}`)).join(', '),
    met: (f: Figures) => {
      if (f.herald === undefined || bounds.some(([other]) => f[other] === undefined)) return undefined;
      const h = f.herald;
      return bounds.every(([other, factor]) => h <= factor * (f[other] ?? NaN));
    },
  };
}

/** Rows that every publishing workload (P1, P2, P4) reports the same way. */
export const LOST_ROW: RowSpec = {
  key: 'lost',
  label: 'lost',
  better: 'none',
  digits: 0,
  target: heraldAtMost(0, '0'),
};

export const ERRORS_ROW: RowSpec = {
  key: 'errors',
  label: 'errors (publish + connection)',
  better: 'none',
  digits: 0,
  target: heraldAtMost(0, '0'),
};

export const LOADGEN_CPU_ROW: RowSpec = {
  key: 'loadgenCpuPerMsg',
  label: 'load generator CPU µs / delivered (for reference)',
  better: 'none',
  digits: 1,
};
