// What the plan of the demo data is made of: a spec per metric and tag set, a pure function of
// time for its value.
import type { Tags } from '../metrics/series.js';
import type { Host } from './hosts.js';

export interface Spec {
  metric: string;
  /** Tag sets the series is written under; fleet-level samples have one per worker. */
  variants: Tags[];
  /** Which variant takes the sample at t (the worker that took the tick). */
  pick?: (t: number) => number;
  /** The value at t, or undefined when the sampler reports nothing at that tick. */
  value: (t: number) => number | undefined;
}

/** What every family of series is planned from. */
export interface PlanContext {
  seed: number;
  stepMs: number;
  hosts: Host[];
  /** The regression's factor at t on this host's regressed series (1 on every other host). */
  reg: (host: Host) => (t: number) => number;
}
