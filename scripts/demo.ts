// npm run demo -- --days 7 [--end ISO] [--seed N] [--hosts 3] [--step 60s]
// Writes realistic demo data for every metric pulse's samplers produce (README, "Sampling"):
// process metrics per role and host, host metrics per host, PostgreSQL, Redis, every queue,
// and scraped node_exporter and app targets, with the samplers' names, units and tags, over the
// last N days at --step, ending now. Daily and weekly cycles, noise, occasional spikes, counters
// that only go up, and exactly one regression about 12 h before the end. It then runs regression
// detection as of the end and prints the report, so the dashboard shows it at once.
//
// Points go through the ingest rules (validateBatch) and PointStore.write in batches, so
// rollup_1m is exact, then the aggregate job builds rollup_1h. Every value is a pure function of
// (seed, series, timestamp) and timestamps sit on a grid of --step, so a second run stores
// nothing twice: the primary key skips what is already there, and the summary counts it.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { createDb, type Db } from '../src/infra/db.js';
import { formatDuration, parseDuration } from '../src/infra/duration.js';
import { postgresFor, runningRedis } from '../src/infra/embedded.js';
import { createLogger, type Logger } from '../src/infra/logger.js';
import { migrate } from '../src/metrics/schema.js';
import { aggregate } from '../src/jobs/aggregate.js';
import { entryOf } from '../src/metrics/entry.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { validateBatch, type Point } from '../src/metrics/point.js';
import { sql } from '../src/metrics/queries.js';
import type { Tags } from '../src/metrics/series.js';
import { PointStore, type WriteResult } from '../src/metrics/store.js';
import { QUEUE } from '../src/workers/queues.js';
import { ISO_TIME } from '../src/api/params.js';
import { DashboardCache } from '../src/cache/dashboard-cache.js';
import { keysFor } from '../src/infra/keys.js';
import { closeRedis, createRedis } from '../src/infra/redis.js';
import { regression, type RegressionRun } from '../src/jobs/regression.js';
import { table } from './regression.js';
import { SECOND, MINUTE, HOUR, DAY, WEEK } from '../src/infra/time.js';
import { progressLine } from '../src/infra/progress.js';
import { UsageError } from '../src/infra/usage-error.js';

/** Counters count from here ("since statistics reset"): fixed, so every run agrees. */
const COUNTER_EPOCH_HOUR = Date.UTC(2025, 0, 1) / HOUR;
/** The regressed series step up by this factor. */
const REGRESSION_FACTOR = 1.4;
/** How long before the end of the data the regression starts (then aligned down to the hour). */
const REGRESSION_AGO = 12 * HOUR;
/** Points per PointStore.write transaction, roughly (batches are whole hours). */
const BATCH_POINTS = 60_000;
/** Write transactions in flight at once (PostgreSQL works on one while the next is generated). */
const WRITE_CONCURRENCY = 2;
/** A fleet-level sample is taken by one worker; the taker changes every few hours. */
const TAKER_BLOCK = 6 * HOUR;
/** V8's heap_size_limit of a 64-bit Node 20 on a machine with 16 GB or more. */
const HEAP_LIMIT = 4_345_298_944;
const MAX_CONNECTIONS = 100;
const SCRAPE_TIMEOUT_S = 5;
const ENVIRONMENT = 'demo';

export interface DemoOptions {
  db: Db;
  config: Config;
  /** Days of data ending at `now`; at most RAW_RETENTION. */
  days: number;
  seed?: number;
  hosts?: number;
  stepMs?: number;
  /** End of the data, epoch ms (default: the clock). Tests pin it. */
  now?: number;
  /** Batches written of total, and points generated so far. */
  onProgress?: (done: number, total: number, points: number) => void;
  /** A phase starts: the writes (with their size), then building rollup_1h. */
  onPhase?: (what: string) => void;
  log?: Logger;
}

export interface SeriesRef {
  metric: string;
  tags: Tags;
}

export interface DemoResult {
  /** First and last timestamp written, epoch ms. */
  from: number;
  to: number;
  stepMs: number;
  hosts: string[];
  /** Distinct series written. */
  series: number;
  points: number;
  /** Rows really inserted; the rest were already stored (an earlier run). */
  inserted: number;
  duplicates: number;
  rollup1h: { hours: number; rows: number };
  elapsedMs: number;
  regression: { at: number; hostname: string; factor: number; series: SeriesRef[] };
}

// ---------------------------------------------------------------------------------------------
// Deterministic noise: pure functions of a key and a time, never a stream of random numbers, so
// the value of a series at a timestamp is the same whatever range or order it is generated in.

function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function hash(key: number, i: number): number {
  return mix(key ^ mix((i ^ 0x9e3779b9) + Math.floor(i / 4_294_967_296)));
}

/** Uniform in [0, 1). */
function u01(key: number, i: number): number {
  return hash(key, i) / 4_294_967_296;
}

/** Roughly standard normal, bounded to ±3.5 (a sum of four uniforms). */
function gauss(key: number, i: number): number {
  return (
    (u01(key, i) +
      u01(key ^ 0x1b873593, i) +
      u01(key ^ 0x2c1b3c6d, i) +
      u01(key ^ 0x297a2d39, i) -
      2) *
    1.732
  );
}

function strHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return mix(h >>> 0);
}

/** Smooth noise in [-1, 1] that wanders over `period` (value noise, smoothstep between knots). */
function smooth(key: number, t: number, period: number): number {
  const x = t / period;
  const i = Math.floor(x);
  const f = x - i;
  const s = f * f * (3 - 2 * f);
  const k = key ^ period;
  const a = u01(k, i) * 2 - 1;
  return a + (u01(k, i + 1) * 2 - 1 - a) * s;
}

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

/** 0 at 03:00 UTC, 1 at 15:00 UTC, with a working-day plateau. */
function daily(t: number): number {
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
function weekly(t: number): number {
  const day = Math.floor(t / DAY);
  const into = t - day * DAY;
  const cur = weekdayLoad(day);
  if (into >= 3 * HOUR) return cur;
  const prev = weekdayLoad(day - 1);
  const f = into / (3 * HOUR);
  return prev + (cur - prev) * f * f * (3 - 2 * f);
}

/** Fleet activity in about [0.1, 1]: busy weekday afternoons, quiet nights and weekends. */
function activity(t: number): number {
  return weekly(t) * (0.18 + 0.82 * daily(t));
}

const SPIKE_SLOT = 20 * MINUTE;

/** Usually 0; now and then (about every other day per key) an incident: a fast rise, a decay. */
function spike(key: number, t: number): number {
  const slot = Math.floor(t / SPIKE_SLOT);
  const k = key ^ 0x5bd1e995;
  if (u01(k, slot) >= 0.006) return 0;
  const amp = 0.4 + 1.2 * u01(k ^ 0x68e31da4, slot);
  const x = (t - slot * SPIKE_SLOT) / SPIKE_SLOT;
  return amp * (x < 0.15 ? x / 0.15 : Math.exp(-(x - 0.15) * 5));
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7). */
function phi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const k = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * k - 1.453152027) * k + 1.421413741) * k - 0.284496736) * k + 0.254829592) *
      k *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** Runs of a job scheduled every `everyMs` (offset `offsetMs`) inside (t - window, t]. */
function runsIn(t: number, window: number, everyMs: number, offsetMs = 0): number {
  return Math.floor((t - offsetMs) / everyMs) - Math.floor((t - window - offsetMs) / everyMs);
}

/**
 * A counter as a pure function of time: the sum of per-hour increments since COUNTER_EPOCH_HOUR,
 * plus the share of the current hour (`within`, linear by default). Increments are never
 * negative, so the value never goes down. Walks forward hour by hour; cheap when asked in order.
 */
class Cumulative {
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
function eventCounter(key: number, probability: number, maxPerEvent: number): Cumulative {
  return new Cumulative(
    (h) => (u01(key, h) < probability ? 1 + Math.floor(maxPerEvent * u01(key ^ 0x3c6ef372, h)) : 0),
    (h, frac, inc) => (inc > 0 && frac >= u01(key ^ 0x7f4a7c15, h) ? inc : 0),
  );
}

// ---------------------------------------------------------------------------------------------
// The fleet and its series.

interface Host {
  name: string;
  key: number;
  cores: number;
  memTotal: number;
  diskTotal: number;
  /** Its share of the load, around 1. */
  weight: number;
  api: { instanceId: string };
  worker: { instanceId: string };
  nodeExporter: { url: string; instance: string };
}

interface Spec {
  metric: string;
  /** Tag sets the series is written under; fleet-level samples have one per worker. */
  variants: Tags[];
  /** Which variant takes the sample at t (the worker that took the tick). */
  pick?: (t: number) => number;
  /** The value at t, or undefined when the sampler reports nothing at that tick. */
  value: (t: number) => number | undefined;
}

interface Plan {
  specs: Spec[];
  hosts: Host[];
  regression: DemoResult['regression'];
}

function makeHosts(seed: number, count: number): Host[] {
  const hosts: Host[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `pulse-demo-${i}`;
    const key = strHash(`${seed}|host|${name}`);
    const cores = [2, 4, 4, 8][hash(key, 1) % 4] as number;
    const pid = (n: number) => 1_000 + (hash(key, n) % 60_000);
    hosts.push({
      name,
      key,
      cores,
      memTotal: cores * 4 * 1_073_741_824,
      diskTotal: ([100, 200, 500][hash(key, 2) % 3] as number) * 1_073_741_824,
      weight: 0.85 + 0.3 * u01(key, 3),
      api: { instanceId: `${name}:${pid(4)}` },
      worker: { instanceId: `${name}:${pid(5)}` },
      nodeExporter: { url: `http://${name}:9100/metrics`, instance: `${name}:9100` },
    });
  }
  return hosts;
}

export function planDemo(opts: { seed: number; hosts: number; stepMs: number; end: number }): Plan {
  const { seed, stepMs } = opts;
  const hosts = makeHosts(seed, opts.hosts);
  const fleetKey = strHash(`${seed}|fleet`);
  const regressed = hosts[mix(seed ^ 0x2545f491) % hosts.length] as Host;
  const regressionAt = Math.floor((opts.end - REGRESSION_AGO) / HOUR) * HOUR;
  const reg = (host: Host) =>
    host === regressed ? (t: number) => (t >= regressionAt ? REGRESSION_FACTOR : 1) : () => 1;
  const sec = (t: number) => Math.floor(t / SECOND);
  const stepMin = stepMs / MINUTE;
  const specs: Spec[] = [];

  // ---- process: every pulse process samples itself (role api and worker on every host).
  for (const host of hosts) {
    const hw = host.weight;
    for (const role of ['api', 'worker'] as const) {
      const base: Tags = {
        hostname: host.name,
        instance_id: host[role].instanceId,
        environment: ENVIRONMENT,
        role,
      };
      const k = strHash(`${seed}|process|${host[role].instanceId}`);
      const busy = role === 'worker' ? 1 : 0.55;
      // Work of this process, about 0.1–1.2, and the host's incidents on top (0 or up to ~1.6).
      const load = (t: number) => hw * activity(t) * (1 + 0.02 * smooth(k, t, 6 * HOUR));
      const incident = (t: number) => spike(host.key, t);
      const heapPeriod = (5 + 4 * u01(k, 9)) * MINUTE;
      const heap = (t: number) => {
        const saw = (t / heapPeriod + u01(k, 10)) % 1;
        const l = load(t) * (1 + 0.5 * incident(t));
        const mib =
          role === 'worker' ? 55 + 70 * l * (0.6 + 0.4 * saw) : 38 + 40 * l * (0.6 + 0.4 * saw);
        return Math.round(mib * 1_048_576 * (1 + 0.03 * gauss(k ^ 1, sec(t))));
      };
      const gcRate = (t: number) =>
        (role === 'worker' ? 6 + 60 * load(t) : 3 + 30 * load(t)) * (1 + 0.5 * incident(t));
      const gcCount = (t: number) =>
        Math.max(0, Math.round(gcRate(t) * stepMin * (1 + 0.2 * gauss(k ^ 2, sec(t)))));
      // As the sampler reports it: how late a 10 ms timer fires, without the 10 ms.
      const lagP50 = (t: number) =>
        Math.max(
          0,
          0.00004 + 0.0006 * busy * load(t) * (1 + 0.2 * gauss(k ^ 3, sec(t)) + incident(t)),
        );
      const processReg = role === 'worker' ? reg(host) : () => 1;
      const add = (metric: string, value: Spec['value']) =>
        specs.push({ metric, variants: [base], value });
      add('process_rss_bytes', (t) =>
        Math.round(heap(t) * 1.55 + (62 + 6 * smooth(k ^ 4, t, 12 * HOUR)) * 1_048_576),
      );
      add('process_heap_used_bytes', heap);
      add('process_heap_used_percentage', (t) => (100 * heap(t)) / HEAP_LIMIT);
      add('process_cpu_usage_percentage', (t) =>
        clamp(
          (2 + 70 * busy * load(t) * (1 + 0.6 * incident(t))) * (1 + 0.1 * gauss(k ^ 5, sec(t))),
          0.1,
          100 * Math.min(2, host.cores),
        ),
      );
      add('process_gc_count', gcCount);
      add('gc_frequency_per_minute', (t) => (gcCount(t) * MINUTE) / stepMs);
      add(
        'process_gc_pause_seconds',
        (t) => gcCount(t) * (0.0008 + 0.0015 * load(t)) * (1 + 0.2 * u01(k ^ 6, sec(t))),
      );
      add('process_event_loop_lag_p50_seconds', lagP50);
      add('process_event_loop_lag_p99_seconds', (t) => {
        const p99 =
          0.0008 +
          0.012 * busy * load(t) ** 1.5 * (1 + 0.15 * Math.abs(gauss(k ^ 7, sec(t)))) +
          0.006 * busy * incident(t);
        return Math.max(p99, lagP50(t) + 0.0002) * processReg(t);
      });
    }
  }

  // ---- host: load, memory, CPU and disk of every host.
  for (const host of hosts) {
    const base: Tags = {
      hostname: host.name,
      instance_id: host.worker.instanceId,
      environment: ENVIRONMENT,
    };
    const k = strHash(`${seed}|host-metrics|${host.name}`);
    const hostReg = reg(host);
    // Busy share of all cores, 0–1, before noise (and without the regression).
    const util = (t: number) =>
      clamp(
        0.04 +
          0.42 * host.weight * activity(t) * (1 + 0.03 * smooth(k, t, 6 * HOUR)) +
          0.15 * spike(host.key, t),
        0.01,
        1,
      );
    const loadAvg = (t: number) => host.cores * util(t) * 1.15;
    const memUsed = (t: number) =>
      Math.round(
        host.memTotal *
          clamp(
            0.3 +
              0.22 * host.weight * activity(t) +
              0.05 * smooth(k ^ 1, t, 12 * HOUR) +
              0.05 * spike(host.key, t) +
              0.004 * gauss(k ^ 2, sec(t)),
            0.05,
            0.99,
          ),
      );
    // Fills up through the week, log rotation at 03:00 frees a little, cleanup on Sunday.
    const diskFree = (t: number) => {
      const week = ((((t - 3 * DAY - 3 * HOUR) % WEEK) + WEEK) % WEEK) / WEEK;
      const day = ((((t - 3 * HOUR) % DAY) + DAY) % DAY) / DAY;
      const frac = 0.48 + 0.2 * u01(k, 3) - 0.08 * week - 0.015 * day;
      return Math.floor((host.diskTotal * frac) / 4_096) * 4_096;
    };
    const add = (metric: string, value: Spec['value']) =>
      specs.push({ metric, variants: [base], value });
    const round2 = (v: number) => Math.round(Math.max(0, v) * 100) / 100;
    add('host_load_average_1m', (t) => round2(loadAvg(t) * (1 + 0.12 * gauss(k ^ 3, sec(t)))));
    add('host_load_average_5m', (t) => round2(loadAvg(t) * (1 + 0.04 * gauss(k ^ 4, sec(t)))));
    add('host_load_average_15m', (t) =>
      round2(host.cores * 1.15 * (0.04 + 0.42 * host.weight * activity(t))),
    );
    add('memory_usage_bytes', memUsed);
    add('memory_usage_percentage', (t) => (100 * memUsed(t)) / host.memTotal);
    add('cpu_usage_percentage', (t) =>
      clamp(100 * util(t) * (1 + 0.06 * gauss(k ^ 5, sec(t))) * hostReg(t), 0, 100),
    );
    add('host_disk_free_bytes', diskFree);
    add('host_disk_free_percentage', (t) => (100 * diskFree(t)) / host.diskTotal);
  }

  // ---- fleet-level samplers (postgres, redis, queues, scrape): one worker takes each tick.
  // The taker changes every TAKER_BLOCK, so each such metric is a series per worker host.
  const workerTags: Tags[] = hosts.map((h) => ({
    hostname: h.name,
    instance_id: h.worker.instanceId,
    environment: ENVIRONMENT,
  }));
  const taker = (t: number) => hash(fleetKey, Math.floor(t / TAKER_BLOCK)) % hosts.length;
  const fleet = (metric: string, value: Spec['value'], extra: Tags = {}) =>
    specs.push({
      metric,
      variants: workerTags.map((w) => ({ ...w, ...extra })),
      pick: taker,
      value,
    });
  const fleetLoad = (t: number) =>
    activity(t) * (1 + 0.06 * smooth(fleetKey, t, 6 * HOUR)) * (1 + spike(fleetKey, t));
  const scale = hosts.length / 3;

  // postgres
  {
    const k = strHash(`${seed}|postgres`);
    const active = (t: number) =>
      Math.round(1 + 5 * scale * fleetLoad(t) + Math.abs(gauss(k, sec(t))));
    const idle = (t: number) =>
      Math.max(0, Math.round(hosts.length * 6 - 2 * fleetLoad(t) + 1.5 * gauss(k ^ 1, sec(t))));
    const idleInTx = (t: number) => (u01(k ^ 2, sec(t)) < 0.04 ? 1 : 0);
    const total = (t: number) => active(t) + idle(t) + idleInTx(t);
    const deadlocks = eventCounter(k ^ 3, 0.015, 2);
    const dayStart = (t: number) => ((((t - 10 * MINUTE) % DAY) + DAY) % DAY) / DAY;
    fleet('database_connections_active', active);
    fleet('database_connections_idle', idle);
    fleet('database_connections_idle_in_transaction', idleInTx);
    fleet('database_connections_total', total);
    fleet('database_connections_usage_percentage', (t) => (100 * total(t)) / MAX_CONNECTIONS);
    fleet('database_transactions_committed_per_second', (t) =>
      Math.max(0, (6 + 160 * scale * fleetLoad(t)) * (1 + 0.1 * gauss(k ^ 4, sec(t)))),
    );
    fleet('database_transactions_rolled_back_per_second', (t) =>
      Math.max(0, 0.02 + 0.12 * fleetLoad(t) * u01(k ^ 5, sec(t)) + 1.5 * spike(k ^ 6, t)),
    );
    fleet('database_cache_hit_ratio', (t) =>
      clamp(
        0.9985 - 0.006 * fleetLoad(t) - 0.03 * spike(k ^ 6, t) + 0.0004 * gauss(k ^ 7, sec(t)),
        0,
        1,
      ),
    );
    fleet('database_deadlocks_total', (t) => deadlocks.at(t));
    // Grows through the day as points arrive; retention drops the oldest day just after midnight.
    fleet(
      'database_size_bytes',
      (t) =>
        Math.round(
          (5.2e9 * scale + 0.9e9 * scale * dayStart(t) * weekly(t) + 2e7 * smooth(k ^ 8, t, HOUR)) /
            8_192,
        ) * 8_192,
    );
  }

  // redis
  {
    const k = strHash(`${seed}|redis`);
    fleet('redis_used_memory_bytes', (t) =>
      Math.round(
        1.4e7 + 2.2e7 * scale * fleetLoad(t) + 6e7 * spike(k, t) + 5e5 * gauss(k ^ 1, sec(t)),
      ),
    );
    fleet('redis_connected_clients', (t) =>
      Math.max(1, hosts.length * 10 + 1 + Math.round(1.2 * gauss(k ^ 2, sec(t)))),
    );
    fleet('redis_ops_per_second', (t) =>
      Math.max(
        0,
        Math.round((120 + 1_800 * scale * fleetLoad(t)) * (1 + 0.1 * gauss(k ^ 3, sec(t)))),
      ),
    );
    fleet('redis_keyspace_hit_ratio', (t) =>
      clamp(0.94 + 0.03 * smooth(k ^ 4, t, 8 * HOUR) + 0.005 * gauss(k ^ 5, sec(t)), 0, 1),
    );
    // noeviction never evicts: the counter stays at 0, as it should.
    fleet('redis_evicted_keys_total', () => 0);
    fleet('redis_maxmemory_policy_noeviction', () => 1);
  }

  // queues: every pulse queue, tag `queue`.
  {
    const scrapeTargets = hosts.length + 1;
    const queues: {
      name: string;
      everyMs: number;
      schedulers: number;
      extraPerMinute: (t: number) => number;
      failureProbability: number;
    }[] = [
      // Every FLUSH_INTERVAL, plus threshold flushes when busy.
      {
        name: QUEUE.flush,
        everyMs: 5 * SECOND,
        schedulers: 1,
        extraPerMinute: (t) => 10 * scale * fleetLoad(t),
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
    for (const q of queues) {
      const k = strHash(`${seed}|queue|${q.name}`);
      const tags = { queue: q.name };
      const busy = (t: number) => fleetLoad(t) * (q.name === QUEUE.flush ? 1 : 0.3);
      const waiting = (t: number) =>
        Math.max(0, Math.round(3 * spike(k, t) + (u01(k ^ 1, sec(t)) < 0.15 * busy(t) ? 1 : 0)));
      // Failures come in episodes; failed jobs are kept 7 days (removeOnFail), then age out.
      const failures = eventCounter(k ^ 2, q.failureProbability, 4);
      const failuresBefore = eventCounter(k ^ 2, q.failureProbability, 4);
      const failuresWeekAgo = eventCounter(k ^ 2, q.failureProbability, 4);
      const offset = Math.floor(u01(k ^ 3, 0) * Math.min(q.everyMs, MINUTE));
      fleet('queue_waiting_jobs', waiting, tags);
      fleet(
        'queue_active_jobs',
        (t) => Math.min(2, Math.round(2 * busy(t) * u01(k ^ 4, sec(t)) + spike(k, t))),
        tags,
      );
      fleet('queue_delayed_jobs', () => q.schedulers, tags);
      fleet(
        'queue_failed_jobs',
        (t) => Math.min(1_000, failures.at(t) - failuresWeekAgo.at(t - WEEK)),
        tags,
      );
      fleet(
        'queue_oldest_waiting_age_seconds',
        (t) => (waiting(t) > 0 ? 0.02 + 4 * spike(k, t) + 0.5 * u01(k ^ 5, sec(t)) : 0),
        tags,
      );
      fleet(
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
      fleet(
        'queue_failed_per_minute',
        (t) => ((failures.at(t) - failuresBefore.at(t - stepMs)) * MINUTE) / stepMs,
        tags,
      );
    }
  }

  // scrape: a node_exporter on every host, and one app with an HTTP latency histogram.
  {
    const isUp = (k: number, t: number) => u01(k ^ 0x0badf00d, sec(t)) >= 0.002;
    const scrapeTags = (url: string, instance: string) => ({ instance, target: url });
    const target = (
      url: string,
      instance: string,
      k: number,
      metrics: { metric: string; labels?: Tags; value: (t: number) => number }[],
    ) => {
      const tt = scrapeTags(url, instance);
      fleet('up', (t) => (isUp(k, t) ? 1 : 0), tt);
      fleet(
        'scrape_duration_seconds',
        (t) =>
          isUp(k, t)
            ? 0.006 + 0.02 * fleetLoad(t) + 0.004 * u01(k ^ 1, sec(t))
            : SCRAPE_TIMEOUT_S + 0.003 * u01(k ^ 2, sec(t)),
        tt,
      );
      // A failed scrape stores only `up` and `scrape_duration_seconds`.
      for (const m of metrics)
        fleet(m.metric, (t) => (isUp(k, t) ? m.value(t) : undefined), { ...m.labels, ...tt });
    };

    for (const host of hosts) {
      const k = strHash(`${seed}|node-exporter|${host.name}`);
      const hk = strHash(`${seed}|host-metrics|${host.name}`);
      const mid = (h: number) => h * HOUR + HOUR / 2;
      const util = (t: number) =>
        clamp(
          0.04 + 0.42 * host.weight * activity(t) * (1 + 0.03 * smooth(hk, t, 6 * HOUR)),
          0.01,
          1,
        );
      const idle = new Cumulative((h) => 3_600 * (1 - util(mid(h))));
      const user = new Cumulative((h) => 3_600 * 0.7 * util(mid(h)));
      const rx = new Cumulative((h) => 3_600 * (4e4 + 2.5e6 * host.weight * activity(mid(h))));
      const memUsed = (t: number) =>
        host.memTotal *
        clamp(
          0.3 + 0.22 * host.weight * activity(t) + 0.05 * smooth(hk ^ 1, t, 12 * HOUR),
          0.05,
          0.99,
        );
      target(host.nodeExporter.url, host.nodeExporter.instance, k, [
        {
          metric: 'node_load1',
          value: (t) =>
            Math.round(host.cores * util(t) * 115 * (1 + 0.12 * gauss(k ^ 3, sec(t)))) / 100,
        },
        {
          metric: 'node_memory_MemAvailable_bytes',
          value: (t) => Math.round((host.memTotal - memUsed(t)) / 4_096) * 4_096,
        },
        {
          metric: 'node_cpu_seconds_total',
          labels: { cpu: '0', mode: 'idle' },
          value: (t) => Math.round(idle.at(t) * 100) / 100,
        },
        {
          metric: 'node_cpu_seconds_total',
          labels: { cpu: '0', mode: 'user' },
          value: (t) => Math.round(user.at(t) * 100) / 100,
        },
        {
          metric: 'node_network_receive_bytes_total',
          labels: { device: 'eth0' },
          value: (t) => Math.floor(rx.at(t)),
        },
      ]);
    }

    // The app: requests per hour and a log-normal latency whose median follows the load.
    const k = strHash(`${seed}|app`);
    const mid = (h: number) => h * HOUR + HOUR / 2;
    const requests = (h: number) =>
      3_600 * (3 + 60 * scale * activity(mid(h)) * (1 + 0.1 * smooth(k, mid(h), 6 * HOUR)));
    const median = (h: number) => 0.035 * (1 + 0.8 * activity(mid(h))) * (1 + spike(k ^ 1, mid(h)));
    const SIGMA = 0.9;
    const errorShare = (h: number) => 0.002 + 0.03 * spike(k ^ 1, mid(h));
    const labels = { method: 'GET', route: '/api/orders' };
    const url = 'http://demo-app:8080/metrics';
    const buckets = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
    const counters = buckets.map(
      (le) =>
        new Cumulative((h) =>
          le === '+Inf'
            ? requests(h)
            : requests(h) * phi((Math.log(Number(le)) - Math.log(median(h))) / SIGMA),
        ),
    );
    const sum = new Cumulative((h) => requests(h) * median(h) * Math.exp((SIGMA * SIGMA) / 2));
    const ok = new Cumulative((h) => requests(h) * (1 - errorShare(h)));
    const failed = new Cumulative((h) => requests(h) * errorShare(h));
    target(url, 'demo-app:8080', k, [
      ...buckets.map((le, i) => ({
        metric: 'http_request_duration_seconds_bucket',
        labels: { ...labels, le },
        value: (t: number) => Math.floor((counters[i] as Cumulative).at(t)),
      })),
      {
        metric: 'http_request_duration_seconds_sum',
        labels,
        value: (t) => Math.round(sum.at(t) * 1_000) / 1_000,
      },
      {
        metric: 'http_request_duration_seconds_count',
        labels,
        value: (t) => Math.floor((counters[buckets.length - 1] as Cumulative).at(t)),
      },
      {
        metric: 'http_requests_total',
        labels: { ...labels, status: '200' },
        value: (t) => Math.floor(ok.at(t)),
      },
      {
        metric: 'http_requests_total',
        labels: { ...labels, status: '500' },
        value: (t) => Math.floor(failed.at(t)),
      },
    ]);
  }

  const regressedWorker: Tags = {
    hostname: regressed.name,
    instance_id: regressed.worker.instanceId,
    environment: ENVIRONMENT,
    role: 'worker',
  };
  const regressedHost: Tags = {
    hostname: regressed.name,
    instance_id: regressed.worker.instanceId,
    environment: ENVIRONMENT,
  };
  return {
    specs,
    hosts,
    regression: {
      at: regressionAt,
      hostname: regressed.name,
      factor: REGRESSION_FACTOR,
      series: [
        { metric: 'process_event_loop_lag_p99_seconds', tags: regressedWorker },
        { metric: 'cpu_usage_percentage', tags: regressedHost },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Writing.

interface RawPoint {
  metric_name: string;
  value: number;
  timestamp: number;
  tags: Tags;
}

/**
 * The batch's points, one array per spec. Generated in time order (counters walk forward), kept
 * per spec so each array holds one metric at distinct times: validateBatch's repeat check (same
 * series and millisecond) then stays on its fast path instead of comparing full series keys.
 */
function generate(specs: Spec[], from: number, to: number, stepMs: number): RawPoint[][] {
  const out: RawPoint[][] = specs.map(() => []);
  for (let t = from; t < to; t += stepMs) {
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i] as Spec;
      const value = s.value(t);
      if (value === undefined) continue;
      const tags = (s.pick ? s.variants[s.pick(t)] : s.variants[0]) as Tags;
      (out[i] as RawPoint[]).push({ metric_name: s.metric, value, timestamp: t, tags });
    }
  }
  return out;
}

/** Every point through the ingest rules, as a request of at most INGEST_MAX_POINTS would be. */
function validate(groups: RawPoint[][], now: number, config: Config): Point[] {
  const points: Point[] = [];
  const max = config.ingest.maxPoints;
  for (const raw of groups) {
    for (let i = 0; i < raw.length; i += max) {
      const checked = validateBatch(
        { points: raw.slice(i, i + max) },
        { now, maxPoints: max, acceptMs: config.retention.acceptMs },
      );
      if (!checked.ok) {
        const e = checked.errors[0];
        const p = raw[i + (e?.index ?? 0)];
        throw new Error(
          `demo data broke the ingest rules (${p?.metric_name} at ${p ? new Date(p.timestamp).toISOString() : '?'}): ${e?.field} ${e?.reason}`,
        );
      }
      for (const p of checked.points) points.push(p);
    }
  }
  return points;
}

/** `--end`: when the data ends, epoch ms; checked against the clock and how far back pulse accepts points. */
export function parseEnd(text: string, days: number, acceptMs: number, clock: number): number {
  const end = ISO_TIME.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(end))
    throw new UsageError(
      `--end ${JSON.stringify(text)}: expected an ISO-8601 date-time with a zone (2026-11-29T18:00:00Z) or a date (2026-11-29)`,
    );
  if (end > clock + MINUTE)
    throw new UsageError(
      `--end ${text}: is in the future (now is ${new Date(clock).toISOString()})`,
    );
  if (clock - (end - days * DAY) > acceptMs)
    throw new UsageError(
      `--end ${text} with --days ${days} starts ${formatDuration(clock - (end - days * DAY))} ago, further back than pulse accepts points (${ACCEPTED(acceptMs)}): ingest would refuse them. Use a later --end or fewer --days.`,
    );
  return end;
}

export function parseDays(text: string, acceptMs: number): number {
  const days = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(days) || days < 1)
    throw new UsageError(
      `--days ${JSON.stringify(text)}: expected a whole number of days, at least 1`,
    );
  checkRetention(days, acceptMs);
  return days;
}

/** How far back points are accepted, and why (config retention.acceptMs). */
const ACCEPTED = (acceptMs: number) =>
  `${formatDuration(acceptMs)}: RAW_RETENTION, or ROLLUP_1M_RETENTION less a margin where that is shorter`;

function checkRetention(days: number, acceptMs: number): void {
  if (days * DAY > acceptMs)
    throw new UsageError(
      `--days ${days} goes back further than pulse accepts points (${ACCEPTED(acceptMs)}): ingest refuses older ones. ` +
        `Use --days ${Math.floor(acceptMs / DAY)} or less.`,
    );
}

export function parseStep(text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms < SECOND || ms % SECOND !== 0 || ms > HOUR)
    throw new UsageError(
      `--step ${JSON.stringify(text)}: expected whole seconds from 1s to 1h (e.g. 10s, 60s, 5m)`,
    );
  return ms;
}

/** Writes the demo data into an already migrated database; resolves with what it did. */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const seed = opts.seed ?? 1;
  const hostCount = opts.hosts ?? 3;
  const stepMs = opts.stepMs ?? MINUTE;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed ${seed}: expected an integer`);
  if (!Number.isSafeInteger(hostCount) || hostCount < 1 || hostCount > 100)
    throw new UsageError(`--hosts ${hostCount}: expected a whole number from 1 to 100`);
  if (!Number.isSafeInteger(opts.days) || opts.days < 1)
    throw new UsageError(`--days ${opts.days}: expected a whole number of days, at least 1`);
  checkRetention(opts.days, opts.config.retention.acceptMs);
  parseStep(`${stepMs}ms`);
  const now = opts.now ?? Date.now();
  const log = opts.log ?? createLogger('silent');

  // A grid of --step ending at now: the same timestamps on every run within a step.
  const end = Math.floor(now / stepMs) * stepMs;
  const steps = Math.floor((opts.days * DAY) / stepMs);
  const first = end - (steps - 1) * stepMs;
  const plan = planDemo({ seed, hosts: hostCount, stepMs, end });

  // Partitions for the days the data covers (the start-up only makes them from yesterday on).
  await opts.db.one(sql.pointsPartitionsEnsure, [
    new Date(first).toISOString().slice(0, 10),
    new Date(end).toISOString().slice(0, 10),
  ]);
  await ensurePartitions(opts.db, now);

  // Batches of whole hours, so no minute (and no hour) is split between two transactions.
  const perHour = plan.specs.length * Math.max(1, HOUR / stepMs);
  const batchMs = Math.max(1, Math.floor(BATCH_POINTS / perHour)) * HOUR;
  const batches: [number, number][] = [];
  for (let b = Math.floor(first / batchMs) * batchMs; b <= end; b += batchMs) {
    const from = Math.max(b, first);
    // Keep `from` on the step grid.
    const aligned = Math.ceil(from / stepMs) * stepMs;
    batches.push([aligned, Math.min(b + batchMs, end + 1)]);
  }

  opts.onPhase?.(
    `writing about ${(steps * plan.specs.length).toLocaleString('en-US')} points (${steps.toLocaleString('en-US')} ticks) in ${batches.length} transactions`,
  );
  const store = new PointStore(opts.db);
  const fingerprints = new Set<string>();
  let points = 0;
  let inserted = 0;
  let done = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  const write = (batch: Point[]) => {
    const entry = entryOf(batch);
    for (const s of entry.series) fingerprints.add(s.fingerprint);
    const p: Promise<void> = store
      .write([entry])
      .then((r: WriteResult) => {
        inserted += r.inserted;
        done += 1;
        opts.onProgress?.(done, batches.length, points);
      })
      .catch((err: unknown) => {
        failure ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  };
  opts.onProgress?.(0, batches.length, 0);
  try {
    for (let i = 0; i < batches.length && failure === undefined; i++) {
      const [from, to] = batches[i] as [number, number];
      const batch = validate(generate(plan.specs, from, to, stepMs), now, opts.config);
      points += batch.length;
      const p = write(batch);
      // The first batch alone creates (nearly) every series; later ones only look them up.
      if (i === 0) await p;
      while (inFlight.size >= WRITE_CONCURRENCY) await Promise.race(inFlight);
    }
  } finally {
    // Never leave a transaction running behind a failure (the caller closes the pool).
    await Promise.all(inFlight);
  }
  if (failure !== undefined) throw failure;

  // The aggregate job builds rollup_1h for the closed hours the writes marked dirty. One call
  // works for at most a minute (an hour per transaction), so a long range takes a few calls;
  // the bound only guards against a live flush that keeps marking hours.
  opts.onPhase?.('building rollup_1h');
  const rollup1h = { hours: 0, rows: 0 };
  for (let call = 0; call < opts.days + 5; call++) {
    const r = await aggregate({ db: opts.db, log }, { reason: 'manual' });
    rollup1h.hours += r.hours;
    rollup1h.rows += r.rows;
    if (r.hours === 0) break;
  }
  return {
    from: first,
    to: end,
    stepMs,
    hosts: plan.hosts.map((h) => h.name),
    series: fingerprints.size,
    points,
    inserted,
    duplicates: points - inserted,
    rollup1h,
    elapsedMs: performance.now() - started,
    regression: plan.regression,
  };
}

// ---------------------------------------------------------------------------------------------
// Command line.

const USAGE = `usage: npm run demo -- --days N [--end ISO] [--seed N] [--hosts N] [--step 60s]
  --days N     days of data ending at --end (default 7; at most 29 with the default retentions)
  --end ISO    when the data ends: an ISO-8601 date-time with a zone, or a date (midnight UTC);
               default now. Not in the future, and not so far back that the first day is
               older than RAW_RETENTION
  --seed N     seed of the data (default 1): the same seed gives the same values
  --hosts N    hosts, each running an api and a worker process (default 3)
  --step D     time between samples (default 60s; whole seconds, 1s to 1h)
Writes to DATABASE_URL, or the embedded PostgreSQL when it is unset, then runs regression
detection as of the end and prints the report (the dashboard's cached report is replaced when
Redis is reachable). Running it again stores nothing twice.`;

function describeSeries(s: SeriesRef): string {
  const tags = Object.entries(s.tags)
    .filter(([k]) => k === 'hostname' || k === 'role')
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${s.metric}{${tags}}`;
}

export function summary(r: DemoResult): string {
  const int = (n: number) => n.toLocaleString('en-US');
  const ago = (r.to - r.regression.at) / HOUR;
  return [
    `demo data: ${new Date(r.from).toISOString()} → ${new Date(r.to).toISOString()} every ${formatDuration(r.stepMs)}, hosts ${r.hosts.join(', ')}`,
    `  series      ${int(r.series)}`,
    `  points      ${int(r.points)} (${int(r.inserted)} new, ${int(r.duplicates)} duplicates already stored)`,
    `  rollup_1h   ${int(r.rollup1h.rows)} rows over ${int(r.rollup1h.hours)} closed hours`,
    `  elapsed     ${(r.elapsedMs / 1_000).toFixed(1)} s`,
    `  regression  on ${r.regression.hostname} from ${new Date(r.regression.at).toISOString()} (${ago.toFixed(1)} h before the last point): ×${r.regression.factor}`,
    ...r.regression.series.map((s) => `              ${describeSeries(s)}`),
  ].join('\n');
}

/**
 * Regression detection as of `at`, as the regression job runs it. The dashboard's cached report
 * is replaced when a Redis answers (the demo never starts one of its own for this).
 */
export async function demoRegression(
  db: Db,
  config: Config,
  at: number,
  log: Logger,
): Promise<RegressionRun> {
  const url = await runningRedis(config);
  if (url === undefined)
    process.stderr.write(
      'demo: note: no Redis answers, so the dashboard shows this report after its next warm pass\n',
    );
  const redis = url === undefined ? undefined : createRedis(url, 'pulse-demo', 'command');
  try {
    return await regression(
      {
        db,
        log,
        config: { ...config.regression, minSegmentMinutes: 60 },
        now: () => at,
        cache: redis
          ? {
              cache: new DashboardCache(redis, keysFor(config.prefix), log),
              ttlMs: config.cache.ttlMs,
            }
          : undefined,
      },
      { reason: 'manual' },
    );
  } finally {
    if (redis) await closeRedis(redis);
  }
}

function parseCli() {
  return parseArgs({
    options: {
      days: { type: 'string', default: '7' },
      seed: { type: 'string', default: '1' },
      hosts: { type: 'string', default: '3' },
      step: { type: 'string', default: '60s' },
      end: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }).values;
}

async function main(): Promise<number> {
  let values: ReturnType<typeof parseCli>;
  try {
    values = parseCli();
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config: Config;
  let days: number;
  let stepMs: number;
  let seed: number;
  let hosts: number;
  let end: number;
  try {
    config = loadConfig();
    days = parseDays(values.days, config.retention.acceptMs);
    const clock = Date.now();
    end =
      values.end === undefined
        ? clock
        : parseEnd(values.end, days, config.retention.acceptMs, clock);
    stepMs = parseStep(values.step);
    seed = /^-?\d+$/.test(values.seed) ? Number(values.seed) : NaN;
    if (!Number.isSafeInteger(seed))
      throw new UsageError(`--seed ${JSON.stringify(values.seed)}: expected an integer`);
    hosts = /^\d+$/.test(values.hosts) ? Number(values.hosts) : NaN;
    if (!Number.isSafeInteger(hosts) || hosts < 1 || hosts > 100)
      throw new UsageError(
        `--hosts ${JSON.stringify(values.hosts)}: expected a whole number from 1 to 100`,
      );
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ConfigError)) throw err;
    process.stderr.write(`demo: ${err.message}\n`);
    return 2;
  }
  if (days * DAY > config.retention.rollup1mMs)
    process.stderr.write(
      `demo: note: ROLLUP_1M_RETENTION is ${formatDuration(config.retention.rollup1mMs)}; the maintenance job will expire older minute rollups (rollup_1h keeps them)\n`,
    );
  const log = createLogger('warn', { component: 'demo' });
  const pg = await postgresFor(config, log);
  const db = createDb(pg.url, WRITE_CONCURRENCY + 1, 'pulse-demo');
  try {
    await migrate(db, log);
    process.stderr.write(
      `demo: ${days} d every ${formatDuration(stepMs)} ending ${new Date(end).toISOString()}, ${hosts} hosts, seed ${seed}\n`,
    );
    const progress = progressLine('demo', 'batches');
    const report = (done: number, total: number, points: number): void =>
      progress(done, total, `${points.toLocaleString('en-US')} points`);
    const r = await runDemo({
      db,
      config,
      days,
      seed,
      hosts,
      stepMs,
      now: end,
      log,
      onProgress: report,
      onPhase: (what) => process.stderr.write(`demo: ${what}\n`),
    });
    process.stdout.write(`${summary(r)}\n`);
    process.stderr.write('demo: running regression detection as of the end of the data\n');
    const run = await demoRegression(db, config, r.to + r.stepMs, log);
    process.stdout.write(`\n${table(run)}\n`);
    return 0;
  } finally {
    await db.$pool.end();
    await pg.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
