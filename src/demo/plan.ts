// The plan of the demo data: the fleet, a spec per series of every sampler, in the order the
// series are first written, and the one regression.
import { HOUR } from '../infra/time.js';
import type { Tags } from '../metrics/series.js';
import { mix } from './noise.js';
import { makeHosts, processTags, workerTags, type Host } from './hosts.js';
import { processSpecs } from './plan-process.js';
import { hostSpecs } from './plan-host.js';
import { Fleet, postgresSpecs, redisSpecs } from './plan-fleet.js';
import { queuesSpecs } from './plan-queues.js';
import { scrapeSpecs } from './plan-scrape.js';
import type { PlanContext, Spec } from './spec.js';

/** The regressed series step up by this factor. */
const REGRESSION_FACTOR = 1.4;
/** How long before the end of the data the regression starts (then aligned down to the hour). */
const REGRESSION_AGO = 12 * HOUR;

export interface SeriesRef {
  metric: string;
  tags: Tags;
}

/** The regression the demo data holds: when, on which host, by how much, in which series. */
export interface DemoRegression {
  at: number;
  hostname: string;
  factor: number;
  series: SeriesRef[];
}

export interface Plan {
  specs: Spec[];
  hosts: Host[];
  regression: DemoRegression;
}

/** Fleet-level samplers: postgres, redis, queues, scrape targets. */
function fleetSpecs(ctx: PlanContext): Spec[] {
  const fleet = new Fleet(ctx);
  postgresSpecs(fleet);
  redisSpecs(fleet);
  queuesSpecs(fleet);
  scrapeSpecs(fleet);
  return fleet.specs;
}

export function planDemo(opts: { seed: number; hosts: number; stepMs: number; end: number }): Plan {
  const { seed, stepMs } = opts;
  const hosts = makeHosts(seed, opts.hosts);
  const regressed = hosts[mix(seed ^ 0x2545f491) % hosts.length] as Host;
  const regressionAt = Math.floor((opts.end - REGRESSION_AGO) / HOUR) * HOUR;
  const reg = (host: Host) =>
    host === regressed ? (t: number) => (t >= regressionAt ? REGRESSION_FACTOR : 1) : () => 1;
  const ctx: PlanContext = { seed, stepMs, hosts, reg };
  const specs: Spec[] = [];
  for (const host of hosts)
    for (const role of ['api', 'worker'] as const) specs.push(...processSpecs(ctx, host, role));
  for (const host of hosts) specs.push(...hostSpecs(ctx, host));
  specs.push(...fleetSpecs(ctx));
  return {
    specs,
    hosts,
    regression: {
      at: regressionAt,
      hostname: regressed.name,
      factor: REGRESSION_FACTOR,
      series: [
        { metric: 'process_event_loop_lag_p99_seconds', tags: processTags(regressed, 'worker') },
        { metric: 'cpu_usage_percentage', tags: workerTags(regressed) },
      ],
    },
  };
}
