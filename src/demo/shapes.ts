// Signal shapes of the demo fleet: the daily and weekly cycles, the activity they make together,
// and the occasional incident. Pure functions of time (and a key for the incidents).
import { MINUTE, HOUR, DAY } from '../infra/time.js';
import { u01 } from './noise.js';

/** 0 at 03:00 UTC, 1 at 15:00 UTC, with a working-day plateau. */
export function daily(t: number): number {
  const h = (((t % DAY) + DAY) % DAY) / HOUR;
  const x = 0.5 - 0.5 * Math.cos((2 * Math.PI * (h - 3)) / 24);
  return x * x * (3 - 2 * x);
}

// Sunday … Saturday; epoch day 0 was a Thursday.
const WEEKDAY_LOAD = [0.55, 1, 1, 1, 1, 1, 0.6];

function weekdayLoad(day: number): number {
  return WEEKDAY_LOAD[(((day + 4) % 7) + 7) % 7] as number;
}

/** Weekly shape: quiet weekends, with a 3-hour blend at midnight. */
export function weekly(t: number): number {
  const day = Math.floor(t / DAY);
  const into = t - day * DAY;
  const cur = weekdayLoad(day);
  if (into >= 3 * HOUR) return cur;
  const prev = weekdayLoad(day - 1);
  const f = into / (3 * HOUR);
  return prev + (cur - prev) * f * f * (3 - 2 * f);
}

/** Fleet activity in about [0.1, 1]: busy weekday afternoons, quiet nights and weekends. */
export function activity(t: number): number {
  return weekly(t) * (0.18 + 0.82 * daily(t));
}

const SPIKE_SLOT = 20 * MINUTE;

/** Usually 0; now and then (about every other day per key) an incident: a fast rise, a decay. */
export function spike(key: number, t: number): number {
  const slot = Math.floor(t / SPIKE_SLOT);
  const k = key ^ 0x5bd1e995;
  if (u01(k, slot) >= 0.006) return 0;
  const amp = 0.4 + 1.2 * u01(k ^ 0x68e31da4, slot);
  const x = (t - slot * SPIKE_SLOT) / SPIKE_SLOT;
  return amp * (x < 0.15 ? x / 0.15 : Math.exp(-(x - 0.15) * 5));
}
