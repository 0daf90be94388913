// Counters of the demo data: values that only go up, as pure functions of time.
import { HOUR } from '../infra/time.js';
import { u01 } from './noise.js';

/** Counters count from here ("since statistics reset"): fixed, so every run agrees. */
const COUNTER_EPOCH_HOUR = Date.UTC(2025, 0, 1) / HOUR;

/** Runs of a job scheduled every `everyMs` (offset `offsetMs`) inside (t - window, t]. */
export function runsIn(t: number, window: number, everyMs: number, offsetMs = 0): number {
  return Math.floor((t - offsetMs) / everyMs) - Math.floor((t - window - offsetMs) / everyMs);
}

/**
 * A counter as a pure function of time: the sum of per-hour increments since COUNTER_EPOCH_HOUR,
 * plus the share of the current hour (`within`, linear by default). Increments are never
 * negative, so the value never goes down. Walks forward hour by hour; cheap when asked in order.
 */
export class Cumulative {
  private hour = COUNTER_EPOCH_HOUR;
  private prefix = 0;
  private incHour = NaN;
  private inc = 0;

  constructor(
    private readonly perHour: (hour: number) => number,
    private readonly within: (hour: number, frac: number, inc: number) => number = (
      _h,
      frac,
      inc,
    ) => inc * frac,
  ) {}

  at(t: number): number {
    const h = Math.floor(t / HOUR);
    if (h < COUNTER_EPOCH_HOUR) return 0;
    if (h < this.hour) {
      this.hour = COUNTER_EPOCH_HOUR;
      this.prefix = 0;
    }
    while (this.hour < h) {
      this.prefix += this.hour === this.incHour ? this.inc : this.perHour(this.hour);
      this.hour += 1;
    }
    if (this.incHour !== h) {
      this.incHour = h;
      this.inc = this.perHour(h);
    }
    return this.prefix + this.within(h, (t - h * HOUR) / HOUR, this.inc);
  }
}

/** Events (failures, deadlocks) that happen at one moment inside an hour. */
export function eventCounter(key: number, probability: number, maxPerEvent: number): Cumulative {
  return new Cumulative(
    (h) => (u01(key, h) < probability ? 1 + Math.floor(maxPerEvent * u01(key ^ 0x3c6ef372, h)) : 0),
    (h, frac, inc) => (inc > 0 && frac >= u01(key ^ 0x7f4a7c15, h) ? inc : 0),
  );
}
