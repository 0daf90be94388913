// The demo data written into a database: the plan on a grid of --step ending at the end, in
// batches of whole hours, then rollup_1h built by the aggregate job.
import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import type { Db } from '../infra/db.js';
import { createLogger, type Logger } from '../infra/logger.js';
import { MINUTE, HOUR, DAY } from '../infra/time.js';
import { UsageError } from '../infra/usage-error.js';
import { aggregateAll } from '../jobs/aggregate.js';
import { ensurePartitions } from '../metrics/partitions.js';
import { sql } from '../metrics/queries.js';
import { checkRetention, parseStep } from './options.js';
import { planDemo, type DemoRegression } from './plan.js';
import { writeBatches, type DemoProgress } from './writer.js';

/** Points per PointStore.write transaction, roughly (batches are whole hours). */
const BATCH_POINTS = 60_000;

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
  onProgress?: DemoProgress;
  /** A phase starts: the writes (with their size), then building rollup_1h. */
  onPhase?: (what: string) => void;
  log?: Logger;
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
  regression: DemoRegression;
}

function checkOptions(opts: DemoOptions, seed: number, hostCount: number, stepMs: number): void {
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed ${seed}: expected an integer`);
  if (!Number.isSafeInteger(hostCount) || hostCount < 1 || hostCount > 100)
    throw new UsageError(`--hosts ${hostCount}: expected a whole number from 1 to 100`);
  if (!Number.isSafeInteger(opts.days) || opts.days < 1)
    throw new UsageError(`--days ${opts.days}: expected a whole number of days, at least 1`);
  checkRetention(opts.days, opts.config.retention.acceptMs);
  parseStep(`${stepMs}ms`);
}

/** Batches of whole hours, so no minute (and no hour) is split between two transactions. */
function batchesOf(first: number, end: number, stepMs: number, specs: number): [number, number][] {
  const perHour = specs * Math.max(1, HOUR / stepMs);
  const batchMs = Math.max(1, Math.floor(BATCH_POINTS / perHour)) * HOUR;
  const batches: [number, number][] = [];
  for (let b = Math.floor(first / batchMs) * batchMs; b <= end; b += batchMs) {
    const from = Math.max(b, first);
    // Keep `from` on the step grid.
    const aligned = Math.ceil(from / stepMs) * stepMs;
    batches.push([aligned, Math.min(b + batchMs, end + 1)]);
  }
  return batches;
}

/** Writes the demo data into an already migrated database; resolves with what it did. */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const seed = opts.seed ?? 1;
  const hostCount = opts.hosts ?? 3;
  const stepMs = opts.stepMs ?? MINUTE;
  checkOptions(opts, seed, hostCount, stepMs);
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

  const batches = batchesOf(first, end, stepMs, plan.specs.length);
  opts.onPhase?.(
    `writing about ${(steps * plan.specs.length).toLocaleString('en-US')} points (${steps.toLocaleString('en-US')} ticks) in ${batches.length} transactions`,
  );
  const grid = { batches, stepMs, now };
  const written = await writeBatches(opts.db, opts.config, plan.specs, grid, opts.onProgress);

  // The hours the writes could not build themselves (they also held other rows), and the
  // metric-level rollups' compaction: the aggregate job, until nothing is left.
  opts.onPhase?.('building rollup_1h');
  const rest = await aggregateAll({ db: opts.db, log }, opts.days + 5);
  const rollup1h = {
    hours: written.hours.hours + rest.hours,
    rows: written.hours.rows + rest.rows,
  };
  return {
    from: first,
    to: end,
    stepMs,
    hosts: plan.hosts.map((h) => h.name),
    series: written.fingerprints.size,
    points: written.points,
    inserted: written.inserted,
    duplicates: written.points - written.inserted,
    rollup1h,
    elapsedMs: performance.now() - started,
    regression: plan.regression,
  };
}
