// The demo's one planted regression, found whatever day the data ends on: a week of demo data
// (quiet weekends, daily cycles, spikes, counters, fleet-level samples taken by rotating hosts)
// ending on a Sunday, a Monday and a Wednesday evening, then the regression run the demo ends
// with. The planted series are the CRITICAL entries at the top; the only other WARNING or
// CRITICAL entry allowed is the planted metric as a whole (one host of three up 40 % moves it).
// Samples every 2 minutes keep the test near two minutes; `npm run demo`'s 60 s gives the same
// report for these three ends.
import { afterEach, describe, expect, it } from 'vitest';
import { demoRegression } from '../../src/demo/regression.js';
import { runDemo } from '../../src/demo/run.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE } from '../../src/infra/time.js';

let ctx: TestContext | undefined;

afterEach(async () => {
  await ctx?.cleanup();
  ctx = undefined;
});

describe('the demo ends with its planted regression on top', () => {
  it.each([
    ['Sunday', '2026-11-29T18:00:00Z'],
    ['Monday', '2026-11-23T18:00:00Z'],
    ['Wednesday', '2026-11-25T18:00:00Z'],
  ])(
    'data ending %s evening',
    async (_day, endText) => {
      ctx = await createTestContext('demo_regression');
      const end = Date.parse(endText);
      const config = ctx.config({ RAW_RETENTION: '90d' });
      const demo = await runDemo({ db: ctx.db, config, days: 7, now: end, stepMs: 2 * MINUTE });
      const run = await demoRegression(ctx.db, config, demo.to + demo.stepMs, ctx.log);
      const planted = demo.regression.series.map((s) => s.metric);
      const loud = run.entries.filter((e) => e.regression_severity !== 'NORMAL');
      const describe = (e: (typeof loud)[number]) =>
        `${e.regression_severity} ${e.metric_name} ${e.series ? JSON.stringify(e.series.tags) : '(all)'} ${e.shift_percent?.toFixed(1)} %`;
      // The planted series first, CRITICAL, with their change point at the step.
      const top = loud.slice(0, planted.length);
      for (const e of top) {
        expect(e.regression_severity, describe(e)).toBe('CRITICAL');
        expect(e.series?.tags.hostname, describe(e)).toBe(demo.regression.hostname);
        expect(planted, describe(e)).toContain(e.metric_name);
        expect(Math.abs(Date.parse(e.change_point ?? '') - demo.regression.at)).toBeLessThanOrEqual(
          15 * MINUTE,
        );
      }
      expect(new Set(top.map((e) => e.metric_name))).toEqual(new Set(planted));
      // Nothing else, but the planted metrics as a whole.
      const rest = loud.slice(planted.length);
      for (const e of rest) {
        expect(e.series, describe(e)).toBeNull();
        expect(planted, describe(e)).toContain(e.metric_name);
      }
    },
    180_000,
  );
});
