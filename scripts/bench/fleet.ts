// The synthetic fleet of the read and regression benchmarks (metric names × hosts, one point per
// series per minute) and its fill: points by binary COPY, then the rollups
// (scripts/bench/fleet-rollups.ts: rollup_1m by SQL, rollup_1h by the aggregate job, metric
// rollups by the upgrade's rebuild), then VACUUM ANALYZE.
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../../src/infra/db.js';
import { binaryCopyChunks, type Rows } from '../../src/metrics/copy-binary.js';
import { sql, text } from '../../src/metrics/queries.js';
import { seriesDef, type SeriesDef } from '../../src/metrics/series.js';
import { prng } from './data.js';
import { progress, type Resources } from './env.js';
import {
  checkSketches,
  fillHours,
  fillMetricRollups,
  fillRollup1h,
  fillRollup1m,
  type FillBlock,
} from './fleet-rollups.js';
import { insertSeries } from './flush.js';
import { wholeOption } from './options.js';
import { fixed, int } from './report.js';
import { MINUTE, DAY } from '../../src/infra/time.js';
import { UsageError } from '../../src/infra/usage-error.js';

const COPY_ROWS_PER_CHUNK = 2_000;

export interface MetricSpec {
  name: string;
  /** Typical level; each series draws its own between half and all of it. */
  scale: number;
  kind: 'gauge' | 'percent' | 'count' | 'ratio' | 'sparse';
}

export const METRICS: MetricSpec[] = [
  { name: 'cpu_usage_percentage', scale: 60, kind: 'percent' },
  { name: 'memory_usage_percentage', scale: 65, kind: 'percent' },
  { name: 'memory_usage_bytes', scale: 8e9, kind: 'gauge' },
  { name: 'heap_used_bytes', scale: 2e9, kind: 'gauge' },
  { name: 'heap_total_bytes', scale: 4e9, kind: 'gauge' },
  { name: 'rss_bytes', scale: 3e9, kind: 'gauge' },
  { name: 'event_loop_lag_ms', scale: 50, kind: 'gauge' },
  { name: 'event_loop_utilization_percentage', scale: 70, kind: 'percent' },
  { name: 'gc_pause_ms', scale: 20, kind: 'gauge' },
  { name: 'gc_runs_per_minute', scale: 40, kind: 'count' },
  { name: 'http_request_duration_ms', scale: 500, kind: 'gauge' },
  { name: 'http_requests_per_second', scale: 2_000, kind: 'gauge' },
  { name: 'http_errors_per_second', scale: 4, kind: 'sparse' },
  { name: 'active_handles_count', scale: 300, kind: 'count' },
  { name: 'active_requests_count', scale: 80, kind: 'count' },
  { name: 'disk_io_bytes_per_second', scale: 5e7, kind: 'gauge' },
  { name: 'disk_usage_percentage', scale: 70, kind: 'percent' },
  { name: 'network_rx_bytes_per_second', scale: 2e7, kind: 'gauge' },
  { name: 'network_tx_bytes_per_second', scale: 3e7, kind: 'gauge' },
  { name: 'load_average_1m', scale: 3, kind: 'gauge' },
  { name: 'open_file_descriptors', scale: 2_000, kind: 'count' },
  { name: 'db_query_duration_ms', scale: 40, kind: 'gauge' },
  { name: 'db_pool_active_connections', scale: 10, kind: 'count' },
  { name: 'redis_command_duration_ms', scale: 2, kind: 'gauge' },
  { name: 'queue_waiting_jobs', scale: 50, kind: 'sparse' },
  { name: 'queue_completed_per_minute', scale: 600, kind: 'count' },
  { name: 'cache_hit_ratio', scale: 1, kind: 'ratio' },
  { name: 'response_size_bytes', scale: 20_000, kind: 'gauge' },
  { name: 'external_api_latency_ms', scale: 300, kind: 'gauge' },
  { name: 'worker_jobs_per_second', scale: 150, kind: 'gauge' },
  { name: 'ws_connections_count', scale: 5_000, kind: 'count' },
  { name: 'tls_handshake_duration_ms', scale: 30, kind: 'gauge' },
];

/** The options that size the fleet, for parseBenchArgs. */
export const FLEET_OPTIONS = {
  series: { type: 'string' },
  days: { type: 'string' },
  metrics: { type: 'string' },
} as const;

/** --series, --days and --metrics, checked (at least one series per metric). */
export function fleetSize(
  values: { series?: string; days?: string; metrics?: string },
  defaults: { metrics: number; minDays: number },
): { series: number; days: number; metrics: number } {
  const metrics = wholeOption(values.metrics, defaults.metrics, 'metrics', 1, METRICS.length);
  const series = wholeOption(values.series, 1_000, 'series', 1, 100_000);
  if (series < metrics) throw new UsageError('--series: at least one series per metric');
  return { series, days: wholeOption(values.days, 7, 'days', defaults.minDays, 90), metrics };
}

export interface SeriesSpec {
  def: SeriesDef;
  metric: MetricSpec;
  level: number;
  /** Phase of the daily cycle, radians. */
  phase: number;
  /** Where in its minute this series reports, ms. */
  offsetMs: number;
  /** A multiplier of the level at time ts (a weekly cycle, a planted step); 1 when absent. */
  factor?: (ts: number) => number;
}

/** Series i is metric i mod M on host ⌊i / M⌋: ~33 series per metric at 1,000 series. */
export function fleet(seriesCount: number, metricCount: number, seed: number): SeriesSpec[] {
  const rand = prng(seed);
  const hex = (digits: number) =>
    Array.from({ length: digits }, () => Math.floor(rand() * 16).toString(16)).join('');
  const hosts = Math.ceil(seriesCount / metricCount);
  const hostTags = Array.from({ length: hosts }, (_, h) => ({
    hostname: `app-${String(h + 1).padStart(3, '0')}.pulse.internal`,
    environment: h % 5 === 4 ? 'staging' : 'production',
    region: ['eu-west-1', 'us-east-1', 'ap-south-1'][h % 3] as string,
    instance_id: `i-0${hex(16)}`,
  }));
  return Array.from({ length: seriesCount }, (_, i) => {
    const metric = METRICS[i % metricCount] as MetricSpec;
    const tags = hostTags[Math.floor(i / metricCount)] as Record<string, string>;
    return {
      def: seriesDef({ metricName: metric.name, sourceAgentId: null, instanceId: null, tags }),
      metric,
      level: metric.scale * (0.5 + 0.5 * rand()),
      phase: rand() * 2 * Math.PI,
      offsetMs: Math.floor(rand() * MINUTE),
    };
  });
}

/** A deterministic uniform draw in [0, 1) for (seed, series, minute), whatever the fill order. */
function noise(seed: number, s: number, minute: number): number {
  let h = (seed ^ Math.imul(s + 1, 0x9e3779b1) ^ Math.imul(minute, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 4_294_967_296;
}

export function valueOf(spec: SeriesSpec, u: number, ts: number): number {
  const daily =
    (1 + 0.2 * Math.sin((2 * Math.PI * ts) / DAY + spec.phase)) * (spec.factor?.(ts) ?? 1);
  const x = spec.level * daily * (0.85 + 0.3 * u);
  switch (spec.metric.kind) {
    case 'percent':
      return Math.min(100, x);
    case 'ratio':
      return Math.min(1, 0.7 + 0.3 * u * daily);
    case 'count':
      return Math.round(x);
    case 'sparse':
      // Mostly zero, now and then a burst: the sketches get their zero bucket.
      return u < 0.7 ? 0 : Math.round(spec.level * daily * (u - 0.7) * 10);
    default:
      return x;
  }
}

/**
 * The rows of minutes [fromMinute, fromMinute + minutes) for the given series, minute by minute;
 * series s reports at `offsets[s]` ms into each minute (default: its own offsetMs).
 */
export function blockRows(
  specs: SeriesSpec[],
  which: number[],
  ids: number[],
  fromMinute: number,
  minutes: number,
  seed: number,
  offsets: readonly number[] = specs.map((s) => s.offsetMs),
): Rows {
  const n = which.length * minutes;
  const rows = {
    seriesId: new Float64Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  let k = 0;
  for (let m = fromMinute; m < fromMinute + minutes; m++) {
    for (const s of which) {
      const spec = specs[s] as SeriesSpec;
      const ts = m * MINUTE + (offsets[s] as number);
      rows.seriesId[k] = ids[s] as number;
      rows.ts[k] = ts;
      rows.value[k] = valueOf(spec, noise(seed, s, m), ts);
      k += 1;
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Stage 1: the fill

export interface FillFigures {
  series: number;
  metrics: number;
  points: number;
  fromMs: number;
  toMs: number;
  copyMs: number;
  rollup1mMs: number;
  rollup1mRows: number;
  rollup1hMs: number;
  rollup1hRows: number;
  metricMs: number;
  metricRows: number;
  vacuumMs: number;
  totalMs: number;
  sketchChecked: number;
  sizesMb: Record<string, number>;
}

export { lanes } from './fleet-rollups.js';

export interface FillOptions {
  days: number;
  metrics: number;
  seed: number;
  /** The data ends in the minute before this one (epoch ms; default now). */
  endMs?: number;
}

/** Minutes [fromMinute, toMinute) in blocks of a day (the last one what is left). */
function dayBlocks(fromMinute: number, toMinute: number): FillBlock[] {
  const blocks: FillBlock[] = [];
  for (let m = fromMinute; m < toMinute; m += 1_440)
    blocks.push({ from: m, minutes: Math.min(1_440, toMinute - m) });
  return blocks;
}

/** Two connections for the fill's parallel streams, closed by the caller (or on failure). */
async function openFillClients(res: Resources, dbUrl: string): Promise<pg.Client[]> {
  const clients = [0, 1].map(
    (i) => new pg.Client({ connectionString: dbUrl, application_name: `pulse-bench-fill-${i}` }),
  );
  res.clients.push(...clients);
  await Promise.all(clients.map((c) => c.connect()));
  return clients;
}

/**
 * Points: 2 parallel COPY streams (even and odd series), one COPY per day of each; checks that
 * points holds them all. Returns the COPY's time.
 */
async function copyPoints(
  db: Db,
  clients: pg.Client[],
  specs: SeriesSpec[],
  ids: number[],
  blocks: FillBlock[],
  seed: number,
): Promise<number> {
  const halves = [0, 1].map((h) => specs.map((_, i) => i).filter((i) => i % 2 === h));
  const total = specs.length * blocks.reduce((n, b) => n + b.minutes, 0);
  const copyStarted = performance.now();
  let copied = 0;
  await Promise.all(
    halves.map(async (which, h) => {
      for (const b of blocks) {
        const rows = blockRows(specs, which, ids, b.from, b.minutes, seed);
        await pipeline(
          Readable.from(binaryCopyChunks(rows, COPY_ROWS_PER_CHUNK)),
          (clients[h] as pg.Client).query(copyFrom(text(sql.pointsCopy))),
        );
        copied += rows.ts.length;
        if (h === 0) progress(`fill: ${int(copied)} / ${int(total)} points copied`);
      }
    }),
  );
  const copyMs = performance.now() - copyStarted;
  const stored = (await db.one<{ n: number }>('SELECT count(*)::int AS n FROM points')).n;
  if (stored !== total) throw new Error(`points holds ${stored} rows, expected ${total}`);
  return copyMs;
}

/** VACUUM ANALYZE and a CHECKPOINT after the load; returns their time. */
async function vacuum(db: Db): Promise<number> {
  progress('fill: VACUUM ANALYZE (what autovacuum would do after such a load)');
  const vacuumStarted = performance.now();
  await db.none(
    'VACUUM (ANALYZE) points, rollup_1m, rollup_1h, series, rollup_dirty_hours, metric_rollup, metric_rollup_partial, metrics',
  );
  await db.none('CHECKPOINT');
  return performance.now() - vacuumStarted;
}

/** The sizes of the filled tables, MB (points: all its partitions). */
async function tableSizes(db: Db): Promise<Record<string, number>> {
  const sizes = await db.many<{ name: string; mb: number }>(
    `SELECT name, pg_total_relation_size(name::regclass)::float8 / 1048576 AS mb
     FROM unnest(ARRAY['rollup_1m', 'rollup_1h', 'metric_rollup', 'series']) AS name
     UNION ALL
     SELECT 'points', sum(pg_total_relation_size(inhrelid))::float8 / 1048576
     FROM pg_inherits WHERE inhparent = 'points'::regclass`,
  );
  return Object.fromEntries(sizes.map((s) => [s.name, Math.round(s.mb)]));
}

export async function fill(
  opts: FillOptions,
  res: Resources,
  db: Db,
  dbUrl: string,
  specs: SeriesSpec[],
): Promise<FillFigures> {
  const started = performance.now();
  const nowMinute = Math.floor((opts.endMs ?? Date.now()) / MINUTE);
  const minutes = opts.days * 1_440;
  const fromMinute = nowMinute - minutes; // the last point is in the minute before this one
  const dayStr = (m: number) => new Date(m * MINUTE).toISOString().slice(0, 10);
  await db.one(sql.pointsPartitionsEnsure, [dayStr(fromMinute), dayStr(nowMinute + 7 * 1_440)]);

  const ids = await insertSeries(
    db,
    specs.map((s) => s.def),
  );

  const clients = await openFillClients(res, dbUrl);
  const blocks = dayBlocks(fromMinute, nowMinute);
  const total = specs.length * minutes;
  progress(
    `fill: ${int(total)} points (${specs.length} series × ${int(minutes)} minutes) by binary COPY, 2 streams`,
  );
  const copyMs = await copyPoints(db, clients, specs, ids, blocks, opts.seed);
  progress(`fill: points copied in ${fixed(copyMs / 1_000, 1)} s; rollup_1m by SQL, per day`);

  const rollup1m = await fillRollup1m(clients, blocks, total);
  const sketchChecked = await checkSketches(db);
  progress(
    `fill: rollup_1m in ${fixed(rollup1m.ms / 1_000, 1)} s (${sketchChecked} sketches checked against keyOf); rollup_1h by the aggregate job`,
  );
  const hours = fillHours(fromMinute, nowMinute);
  const rollup1h = await fillRollup1h(db, hours);
  const metric = await fillMetricRollups(db, hours);

  const vacuumMs = await vacuum(db);
  for (const c of clients) await c.end();
  res.clients = res.clients.filter((c) => !clients.includes(c));

  const sizesMb = await tableSizes(db);
  const totalMs = performance.now() - started;
  progress(
    `fill: done in ${fixed(totalMs / 1_000, 1)} s (COPY ${fixed(copyMs / 1_000, 1)} s, rollup_1m ${fixed(rollup1m.ms / 1_000, 1)} s, rollup_1h ${fixed(rollup1h.ms / 1_000, 1)} s, metric rollups ${fixed(metric.ms / 1_000, 1)} s, vacuum ${fixed(vacuumMs / 1_000, 1)} s)`,
  );
  return {
    series: specs.length,
    metrics: opts.metrics,
    points: total,
    fromMs: fromMinute * MINUTE,
    toMs: nowMinute * MINUTE,
    copyMs,
    rollup1mMs: rollup1m.ms,
    rollup1mRows: rollup1m.rows,
    rollup1hMs: rollup1h.ms,
    rollup1hRows: rollup1h.rows,
    metricMs: metric.ms,
    metricRows: metric.rows,
    vacuumMs,
    totalMs,
    sketchChecked,
    sizesMb,
  };
}
