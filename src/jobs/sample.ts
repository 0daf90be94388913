// The sample job: one fleet-level sampler per job (host, postgres, redis, queues, or one
// scrape target), its points buffered like ingested ones. A missed tick is not retried: a
// sample taken late would carry the wrong time.
import os from 'node:os';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { throwIfAborted } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import { KEY_TTL, type Keys } from '../infra/keys.js';
import type { Logger } from '../infra/logger.js';
import { refusedBecause, type PointBuffer } from '../metrics/buffer.js';
import { refusalReason } from '../metrics/series-registry.js';
import type { Tags } from '../metrics/series.js';
import { sampleHost } from '../samplers/host.js';
import { samplePostgres } from '../samplers/postgres.js';
import { scrapeTarget, targetKey } from '../samplers/prometheus.js';
import { sampleQueues } from '../samplers/queues.js';
import { sampleRedis } from '../samplers/redis.js';
import type { Point } from '../metrics/point.js';
import { toPoints } from '../samplers/to-points.js';
import type { Sample } from '../samplers/types.js';

export type SamplePayload =
  { sampler: 'host' | 'postgres' | 'redis' | 'queues' } | { sampler: 'scrape'; target: string };

export interface SampleDeps {
  db: Db;
  redis: Redis;
  buffer: PointBuffer;
  keys: Keys;
  /** Every pulse queue, for the queues sampler. */
  queues: Queue[];
  log: Logger;
  /** The plan's tags: hostname, instance_id, environment. */
  baseTags: Tags;
  dataDir: string;
  scrapeTimeoutMs: number;
  scrapeSampleLimit: number;
  /** SCRAPE_TARGETS: a scrape job names its target by targetKey(); this is where it points. */
  scrapeTargets: string[];
  acceptMs: number;
  critical: { memoryPercent: number; cpuPercent: number };
  requestFlush(): Promise<void>;
  /** Counts samples left out by a series limit (pulse_series_limited_total). */
  seriesLimited?(metric: string, points: number): void;
  /** Stops a sample not yet taken, and a scrape in flight (shutdown); it is not retried. */
  signal?: AbortSignal;
}

export interface SampleResult {
  points: number;
  dropped: number;
  /** Samples left out because their series would have passed a series limit. */
  limited?: number;
  up?: boolean;
}

let warnedPolicy = false;

export async function sample(deps: SampleDeps, payload: SamplePayload): Promise<SampleResult> {
  throwIfAborted(deps.signal);
  const now = Date.now();
  const taken = await take(deps, payload, now);
  if (taken === null) return { points: 0, dropped: 0 };
  const { samples, up } = taken;
  const { points, dropped } = toPoints(samples, deps.baseTags, now, deps.acceptMs);
  if (dropped.length > 0) {
    deps.log.debug(
      { sampler: payload.sampler, dropped: dropped.length, first: dropped[0] },
      'samples that break the ingest rules were dropped',
    );
  }
  const limited = points.length > 0 ? await buffer(deps, payload, points) : 0;
  return {
    points: points.length - limited,
    dropped: dropped.length,
    ...(limited > 0 ? { limited } : {}),
    ...(up !== undefined ? { up } : {}),
  };
}

/** The payload's samples (and, for a scrape, whether the target was up); null: nothing to take. */
async function take(
  deps: SampleDeps,
  payload: SamplePayload,
  now: number,
): Promise<{ samples: Sample[]; up?: boolean } | null> {
  switch (payload.sampler) {
    case 'host': {
      const samples = await sampleHost({ dataDir: deps.dataDir });
      // The samples are worth keeping even when the threshold check cannot run.
      await checkCritical(deps, samples).catch((err: unknown) =>
        deps.log.warn({ err: (err as Error).message }, 'critical threshold check failed'),
      );
      return { samples };
    }
    case 'postgres':
      return {
        samples: await samplePostgres({
          db: deps.db,
          redis: deps.redis,
          rateKey: deps.keys.samplerRates('postgres'),
          now,
        }),
      };
    case 'redis':
      return { samples: await redisSamples(deps) };
    case 'queues':
      return {
        samples: await sampleQueues({
          queues: deps.queues,
          redis: deps.redis,
          rateKeyPrefix: deps.keys.samplerRates('queues'),
          now,
        }),
      };
    case 'scrape':
      return scrape(deps, payload.target);
  }
}

async function redisSamples(deps: SampleDeps): Promise<Sample[]> {
  const r = await sampleRedis({ redis: deps.redis });
  if (r.policy !== 'noeviction' && !warnedPolicy) {
    warnedPolicy = true;
    deps.log.warn(
      { policy: r.policy },
      'Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict BullMQ jobs and buffered points. Set `maxmemory-policy noeviction`.',
    );
  }
  return r.samples;
}

async function scrape(
  deps: SampleDeps,
  target: string,
): Promise<{ samples: Sample[]; up: boolean } | null> {
  const url = deps.scrapeTargets.find((u) => targetKey(u) === target);
  if (url === undefined) {
    // Scheduled by a process with other SCRAPE_TARGETS (its start-up removes it again).
    deps.log.warn({ target }, "scrape target not in this worker's SCRAPE_TARGETS: skipped");
    return null;
  }
  const r = await scrapeTarget({
    url,
    timeoutMs: deps.scrapeTimeoutMs,
    sampleLimit: deps.scrapeSampleLimit,
    log: deps.log,
    signal: deps.signal,
  });
  return { samples: r.samples, up: r.up };
}

/** Buffers what fits of `points`; returns how many a series limit left out. */
async function buffer(deps: SampleDeps, payload: SamplePayload, points: Point[]): Promise<number> {
  let limited = 0;
  const { result: r, refused } = await deps.buffer.appendWhatFits(points);
  for (const x of refused) {
    limited += x.points;
    deps.seriesLimited?.(x.metricName, x.points);
    deps.log.warn(
      {
        sampler: payload.sampler,
        metric: x.metricName,
        series: x.fingerprints.length,
        points: x.points,
      },
      `samples left out: ${refusalReason(x)}`,
    );
  }
  if (!r.accepted)
    throw new Error(`${points.length - limited} samples not buffered: ${refusedBecause(r)}`);
  return limited;
}

/**
 * The plan's critical thresholds: memory or CPU above its limit asks for a flush at once (the
 * flush job is deduplicated) and warns once per episode; the episode ends when it drops back.
 */
async function checkCritical(deps: SampleDeps, samples: Sample[]): Promise<void> {
  const host = os.hostname();
  const limits: [string, number][] = [
    ['memory_usage_percentage', deps.critical.memoryPercent],
    ['cpu_usage_percentage', deps.critical.cpuPercent],
  ];
  for (const [metric, limit] of limits) {
    const value = samples.find((s) => s.name === metric)?.value;
    if (value === undefined) continue;
    const key = deps.keys.criticalEpisode(metric, host);
    if (value > limit) {
      await deps.requestFlush();
      // NX: only the first tick of an episode sets it, and only that one warns.
      const started = await deps.redis.set(
        key,
        String(Date.now()),
        'PX',
        KEY_TTL.criticalEpisode,
        'NX',
      );
      if (started === 'OK')
        deps.log.warn({ metric, value, limit, host }, 'critical threshold exceeded: flushing now');
    } else if ((await deps.redis.del(key)) === 1) {
      deps.log.info({ metric, value, limit, host }, 'back below the critical threshold');
    }
  }
}
