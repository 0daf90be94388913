// Queue metrics: every pulse queue, tag `queue`, as the fleet-level queue sampler reports them.
import { SECOND, MINUTE, HOUR, WEEK } from '../infra/time.js';
import { QUEUE } from '../workers/queues.js';
import { gauss, sec, strHash, u01 } from './noise.js';
import { spike } from './shapes.js';
import { eventCounter, runsIn } from './counters.js';
import type { Fleet } from './plan-fleet.js';

interface DemoQueue {
  name: string;
  everyMs: number;
  schedulers: number;
  extraPerMinute: (t: number) => number;
  failureProbability: number;
}

/** The queues, how often their jobs run, and how often one fails. */
function queuesOf(fleet: Fleet): DemoQueue[] {
  const scrapeTargets = fleet.ctx.hosts.length + 1;
  return [
    // Every FLUSH_INTERVAL, plus threshold flushes when busy.
    {
      name: QUEUE.flush,
      everyMs: 5 * SECOND,
      schedulers: 1,
      extraPerMinute: (t) => 10 * fleet.scale * fleet.load(t),
      failureProbability: 0.01,
    },
    // SAMPLE_INTERVAL, one scheduler per fleet sampler and per scrape target.
    {
      name: QUEUE.sample,
      everyMs: (10 * SECOND) / (4 + scrapeTargets),
      schedulers: 4 + scrapeTargets,
      extraPerMinute: () => 0,
      failureProbability: 0.004,
    },
    {
      name: QUEUE.aggregate,
      everyMs: MINUTE,
      schedulers: 1,
      extraPerMinute: () => 0,
      failureProbability: 0.003,
    },
    {
      name: QUEUE.maintenance,
      everyMs: HOUR,
      schedulers: 1,
      extraPerMinute: () => 0,
      failureProbability: 0.002,
    },
  ];
}

/** The metrics of one queue. */
function queueSpecs(fleet: Fleet, q: DemoQueue): void {
  const { stepMs, seed } = fleet.ctx;
  const stepMin = stepMs / MINUTE;
  const k = strHash(`${seed}|queue|${q.name}`);
  const tags = { queue: q.name };
  const busy = (t: number) => fleet.load(t) * (q.name === QUEUE.flush ? 1 : 0.3);
  const waiting = (t: number) =>
    Math.max(0, Math.round(3 * spike(k, t) + (u01(k ^ 1, sec(t)) < 0.15 * busy(t) ? 1 : 0)));
  // Failures come in episodes; failed jobs are kept 7 days (removeOnFail), then age out.
  const failures = eventCounter(k ^ 2, q.failureProbability, 4);
  const failuresBefore = eventCounter(k ^ 2, q.failureProbability, 4);
  const failuresWeekAgo = eventCounter(k ^ 2, q.failureProbability, 4);
  const offset = Math.floor(u01(k ^ 3, 0) * Math.min(q.everyMs, MINUTE));
  fleet.add('queue_waiting_jobs', waiting, tags);
  fleet.add(
    'queue_active_jobs',
    (t) => Math.min(2, Math.round(2 * busy(t) * u01(k ^ 4, sec(t)) + spike(k, t))),
    tags,
  );
  fleet.add('queue_delayed_jobs', () => q.schedulers, tags);
  fleet.add(
    'queue_failed_jobs',
    (t) => Math.min(1_000, failures.at(t) - failuresWeekAgo.at(t - WEEK)),
    tags,
  );
  fleet.add(
    'queue_oldest_waiting_age_seconds',
    (t) => (waiting(t) > 0 ? 0.02 + 4 * spike(k, t) + 0.5 * u01(k ^ 5, sec(t)) : 0),
    tags,
  );
  fleet.add(
    'queue_completed_per_minute',
    (t) => {
      const runs = runsIn(t, stepMs, q.everyMs, offset);
      const extra = Math.max(
        0,
        Math.round(q.extraPerMinute(t) * stepMin * (1 + 0.2 * gauss(k ^ 6, sec(t)))),
      );
      const failed = failures.at(t) - failuresBefore.at(t - stepMs);
      return (Math.max(0, runs + extra - failed) * MINUTE) / stepMs;
    },
    tags,
  );
  fleet.add(
    'queue_failed_per_minute',
    (t) => ((failures.at(t) - failuresBefore.at(t - stepMs)) * MINUTE) / stepMs,
    tags,
  );
}

/** The metrics of every pulse queue. */
export function queuesSpecs(fleet: Fleet): void {
  for (const q of queuesOf(fleet)) queueSpecs(fleet, q);
}
