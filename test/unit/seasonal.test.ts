// Regression analysis on weekly data, as fleets are: quiet weekends (0.55–0.6 of weekday load,
// blended over three hours after midnight), a ±30 % daily cycle and ±6 % noise, 40 metrics on
// two agents. Three +25 % steps and one +12 % step begin 12 h before the end. Whatever weekday
// the data ends on, the steps are found (CRITICAL, WARNING) with their change points, and
// nothing else is a WARNING or CRITICAL, at metric or series level.
import { describe, expect, it } from 'vitest';
import {
  analyse,
  type MinuteValue,
  type RegressionSettings,
} from '../../src/metrics/regression.js';
import { fit } from '../../src/metrics/seasonal.js';
import { MINUTE, HOUR, DAY } from '../../src/infra/time.js';

const settings: RegressionSettings = {
  criticalPercent: 20,
  warningPercent: 10,
  minChangePercent: 5,
  alpha: 0.01,
  minSegmentMinutes: 60,
};

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

// Sunday … Saturday (epoch day 0 was a Thursday).
const LOAD = [0.55, 1, 1, 1, 1, 1, 0.6];
const loadOf = (day: number) => LOAD[(((day + 4) % 7) + 7) % 7] as number;

/** Weekly load with a 3-hour blend after midnight (smoothstep). */
function weekly(t: number): number {
  const day = Math.floor(t / DAY);
  const into = t - day * DAY;
  const cur = loadOf(day);
  if (into >= 3 * HOUR) return cur;
  const f = into / (3 * HOUR);
  return loadOf(day - 1) + (cur - loadOf(day - 1)) * f * f * (3 - 2 * f);
}

interface Metric {
  name: string;
  step: number;
  stepAt: number;
  lowerIsWorse: boolean;
}

/** One agent's minutes over [from, to). */
function agent(m: Metric, seed: number, base: number, phase: number, from: number, to: number) {
  const r = rng(seed);
  const out: MinuteValue[] = [];
  for (let t = from; t < to; t += MINUTE) {
    const daily = 1 + 0.3 * Math.sin((2 * Math.PI * (t + phase)) / DAY);
    const noise = 1 + 0.06 * (2 * r() - 1);
    out.push({ t, v: base * weekly(t) * daily * noise * (t >= m.stepAt ? m.step : 1) });
  }
  return out;
}

/** Every unit of a run: each metric (its agents averaged) and each of its series. */
function units(metrics: Metric[], end: number) {
  const from = end - 7 * DAY;
  return metrics.flatMap((m, i) => {
    const a = agent(m, 1_000 + 2 * i, 50 + i, i * 1_800_000, from, end);
    const b = agent(m, 1_001 + 2 * i, 80 + i, i * 1_800_000, from, end);
    const avg = a.map((p, j) => ({ t: p.t, v: (p.v + (b[j] as MinuteValue).v) / 2 }));
    return [
      { metric: m, level: 'metric', minutes: avg },
      { metric: m, level: 'series a', minutes: a },
      { metric: m, level: 'series b', minutes: b },
    ];
  });
}

function run(metrics: Metric[], end: number) {
  const recentFrom = end - DAY;
  return units(metrics, end).map((u) => ({
    ...u,
    a: analyse(
      u.minutes.filter((p) => p.t < recentFrom),
      u.minutes.filter((p) => p.t >= recentFrom),
      !u.metric.lowerIsWorse,
      settings,
    ),
  }));
}

function fleet(end: number, stepAt: number): Metric[] {
  return Array.from({ length: 40 }, (_, i) => ({
    name: `m${i}`,
    step: i < 3 ? 1.25 : i === 3 ? 1.12 : i === 4 ? 0.75 : 1,
    stepAt: i <= 4 ? stepAt : Infinity,
    lowerIsWorse: i === 4,
  }));
}

// 2026-11-23 was a Monday; ends at 17:00 UTC on each weekday of the following week.
const ENDS = Array.from({ length: 7 }, (_, d) => Date.UTC(2026, 10, 23 + d, 17));
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

describe('weekly seasonality', () => {
  it.each(ENDS.map((end, i) => [DAYS[i], end] as const))(
    'data ending %s 17:00: the steps and nothing else',
    (_day, end) => {
      const stepAt = end - 12 * HOUR;
      const results = run(fleet(end, stepAt), end);
      for (const r of results) {
        const where = `${r.metric.name} ${r.level}`;
        const sev = r.a?.regression_severity ?? 'none';
        const i = Number(r.metric.name.slice(1));
        if (i < 3 || i === 4) {
          if (r.level === 'metric') {
            expect(sev, where).toBe('CRITICAL');
            expect(
              Math.abs(Date.parse(r.a?.change_point ?? '') - stepAt),
              where,
            ).toBeLessThanOrEqual(15 * MINUTE);
          }
        } else if (i === 3) {
          if (r.level === 'metric') expect(sev, where).toBe('WARNING');
        } else expect(['NORMAL', 'none'], `${where}: ${JSON.stringify(r.a)}`).toContain(sev);
      }
    },
  );

  it('a step that begins exactly when the weekend begins', () => {
    const end = Date.UTC(2026, 10, 28, 12); // Saturday noon
    const stepAt = Date.UTC(2026, 10, 28); // Saturday 00:00
    const results = run(fleet(end, stepAt), end).filter((r) => r.level === 'metric');
    const sev = (name: string) =>
      results.find((r) => r.metric.name === name)?.a?.regression_severity ?? 'none';
    for (const name of ['m0', 'm1', 'm2', 'm4']) expect(sev(name), name).toBe('CRITICAL');
    expect(sev('m3')).toBe('WARNING');
    for (let i = 5; i < 40; i++) expect(['NORMAL', 'none']).toContain(sev(`m${i}`));
  });

  it('auto models the week when weekends are quiet, and not when they are not', () => {
    const end = ENDS[6] as number;
    const m: Metric = { name: 'x', step: 1, stepAt: Infinity, lowerIsWorse: false };
    const weeklyData = agent(m, 7, 100, 0, end - 7 * DAY, end - DAY);
    expect(fit(weeklyData, 'auto').kind).toBe('weekly');
    const r = rng(9);
    const flat = weeklyData.map((p) => ({
      t: p.t,
      v: 100 * (1 + 0.3 * Math.sin((2 * Math.PI * p.t) / DAY)) * (1 + 0.06 * (2 * r() - 1)),
    }));
    expect(fit(flat, 'auto').kind).toBe('daily');
  });

  it('a count of rare events is judged on its rate, not on its percent', () => {
    const end = ENDS[2] as number;
    const count = (recentLevel: (t: number) => number) => {
      const out: MinuteValue[] = [];
      for (let t = end - 7 * DAY; t < end; t += MINUTE)
        out.push({ t, v: t < end - DAY ? (t % (2 * DAY) < HOUR ? 1 : 0) : recentLevel(t) });
      return out;
    };
    const judge = (minutes: MinuteValue[]) =>
      analyse(
        minutes.filter((p) => p.t < end - DAY),
        minutes.filter((p) => p.t >= end - DAY),
        true,
        settings,
      )?.regression_severity ?? 'none';
    // Three failed jobs, once, twelve hours ago: +800 % of the level, 0.1 events an hour.
    expect(judge(count((t) => (t >= end - 12 * HOUR ? 3 : 0)))).toBe('NORMAL');
    // Fifty at once: two new events an hour over the day, well above the baseline's rate.
    expect(judge(count((t) => (t >= end - 12 * HOUR ? 50 : 0)))).toBe('CRITICAL');
  });
});

describe('a one-day baseline (REGRESSION_BASELINE=2d)', () => {
  // The window's edges fall inside a slot, so the baseline sees its first slot of the day at
  // both ends: every other slot must still have a level (it used to need two days, and the
  // whole recent day went unjudged).
  it.each([0, 7, 14])(
    'finds a +25 %% step with the window ending %i minutes past a slot',
    (past) => {
      const end = Date.UTC(2026, 10, 25, 17, 0) + past * MINUTE; // a Wednesday
      const stepAt = end - 6 * HOUR;
      const m: Metric = { name: 'one_day', step: 1.25, stepAt, lowerIsWorse: false };
      const minutes = agent(m, 11, 100, 0, end - 2 * DAY, end);
      const split = end - DAY;
      const a = analyse(
        minutes.filter((x) => x.t < split),
        minutes.filter((x) => x.t >= split),
        true,
        settings,
      );
      expect(a?.regression_severity).toBe('CRITICAL');
      expect(Math.abs(Date.parse(a?.change_point ?? '') - stepAt)).toBeLessThanOrEqual(15 * MINUTE);
    },
  );
});
