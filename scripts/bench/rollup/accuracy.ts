// Stage 4 of the rollup benchmark: p95/p99 of summary() and trend() (merged sketches of data
// written through PointStore.write, rollup_1h built by the aggregate job) against PostgreSQL's
// percentile_disc over the raw rows.
import { performance } from 'node:perf_hooks';
import { DAY, HOUR, MINUTE, SECOND } from '../../../src/infra/time.js';
import { aggregate } from '../../../src/jobs/aggregate.js';
import { summary, trend, type Stats } from '../../../src/metrics/rollup-queries.js';
import { PointStore } from '../../../src/metrics/store.js';
import { progress } from '../env.js';
import { int } from '../report.js';
import { alignDown, type Ctx, emptyTables, median, seconds } from './context.js';
import { ACCURACY_HOURS, ACCURACY_INTERVAL_MS } from './options.js';
import { batches, decodedEntries, type SeriesSpec, timeline } from './series.js';

export interface ErrorStats {
  max: number;
  median: number;
}

export interface AccuracyGroup {
  query: 'summary' | 'trend';
  range: string;
  resolution: string;
  /** What each comparison is: per metric (summary) or per series and bucket (trend). */
  unit: string;
  comparisons: number;
  countMismatches: number;
  p95: ErrorStats;
  p99: ErrorStats;
}

export interface Worst {
  query: string;
  range: string;
  key: string;
  quantile: string;
  exact: number;
  estimate: number;
  errorPct: number;
}

export interface AccuracyFigures {
  series: number;
  sampleSeries: number;
  points: number;
  writeMs: number;
  aggregateHours: number;
  groups: AccuracyGroup[];
  all: { comparisons: number; p95: ErrorStats; p99: ErrorStats; max: number; median: number };
  worst: Worst | null;
  countMismatches: number;
}

interface Exact {
  n: number;
  p95: number;
  p99: number;
}

function relErrPct(estimate: number, exact: number): number {
  if (estimate === exact) return 0;
  if (exact === 0) return Infinity;
  return (Math.abs(estimate - exact) / Math.abs(exact)) * 100;
}

/** The errors found so far, over all groups, and the largest one. */
interface Tally {
  all95: number[];
  all99: number[];
  worst: Worst | null;
}

/** The errors of one group (one query over one range). */
interface GroupErrors {
  query: 'summary' | 'trend';
  range: string;
  e95: number[];
  e99: number[];
}

/** Compares one estimate with the exact figures; returns 1 on a count mismatch, else 0. */
function compare(
  tally: Tally,
  group: GroupErrors,
  key: string,
  exact: Exact,
  est: Stats | undefined,
): number {
  if (!est || est.count !== exact.n) {
    progress(
      `accuracy: ${group.query} ${group.range} ${key}: count ${est?.count ?? 'missing'}, exact ${exact.n}`,
    );
    return 1;
  }
  for (const [q, x, y, into] of [
    ['p95', exact.p95, est.p95, group.e95],
    ['p99', exact.p99, est.p99, group.e99],
  ] as const) {
    const err = relErrPct(y, x);
    into.push(err);
    (q === 'p95' ? tally.all95 : tally.all99).push(err);
    if (!tally.worst || err > tally.worst.errorPct)
      tally.worst = {
        query: group.query,
        range: group.range,
        key,
        quantile: q,
        exact: x,
        estimate: y,
        errorPct: err,
      };
  }
  return 0;
}

function stats(xs: number[]): ErrorStats {
  return { max: xs.length ? Math.max(...xs) : NaN, median: median(xs) };
}

interface Range {
  name: string;
  from: number;
  to: number;
  trendRes: number;
}

/**
 * Ranges: 24 h and 1 h ending 13 minutes before the data ends (so neither edge is on an hour:
 * whole clean hours come from rollup_1h, the edges and the open hour from rollup_1m), and one
 * whole clean hour (rollup_1h only).
 */
function accuracyRanges(dataEnd: number): Range[] {
  let e = dataEnd - 13 * MINUTE;
  if (e % HOUR === 0) e -= MINUTE;
  const wholeHour = alignDown(e, HOUR) - HOUR;
  return [
    { name: '1 h', from: e - HOUR, to: e, trendRes: 5 * MINUTE },
    { name: '1 h, whole clock hour', from: wholeHour, to: wholeHour + HOUR, trendRes: HOUR },
    { name: '24 h', from: e - DAY, to: e, trendRes: HOUR },
  ];
}

/** summary(): every metric over the range, all its series merged. */
async function summaryGroup(ctx: Ctx, tally: Tally, r: Range): Promise<AccuracyGroup> {
  const { db } = ctx;
  const exactByMetric = await db.manyOrNone<Exact & { metric_name: string }>(
    `SELECT s.metric_name, count(*)::int AS n,
            percentile_disc(0.95) WITHIN GROUP (ORDER BY p.value) AS p95,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY p.value) AS p99
     FROM points p JOIN series s ON s.id = p.series_id
     WHERE p.ts >= $1 AND p.ts < $2 GROUP BY 1`,
    [new Date(r.from), new Date(r.to)],
  );
  const got = new Map(
    (await summary(db, { from: r.from, to: r.to })).map((m) => [m.metric_name, m]),
  );
  const sg: GroupErrors = { query: 'summary', range: r.name, e95: [], e99: [] };
  let sMismatch = 0;
  for (const x of exactByMetric)
    sMismatch += compare(tally, sg, x.metric_name, x, got.get(x.metric_name));
  if (got.size !== exactByMetric.length) sMismatch += Math.abs(got.size - exactByMetric.length);
  return {
    query: 'summary',
    range: r.name,
    resolution: 'whole range',
    unit: 'metric',
    comparisons: exactByMetric.length,
    countMismatches: sMismatch,
    p95: stats(sg.e95),
    p99: stats(sg.e99),
  };
}

/** The series whose trend() is checked, with their ids. */
interface Sample {
  specs: SeriesSpec[];
  ids: number[];
}

/** trend(): each sampled series alone (tag filter), in buckets of the range's resolution. */
async function trendGroup(
  ctx: Ctx,
  tally: Tally,
  r: Range,
  sample: Sample,
): Promise<AccuracyGroup> {
  const { db } = ctx;
  const res = r.trendRes / SECOND;
  const exactBuckets = await db.manyOrNone<Exact & { series_id: number; t: number }>(
    `SELECT p.series_id, (floor(extract(epoch FROM p.ts) / $3) * $3)::float8 AS t, count(*)::int AS n,
            percentile_disc(0.95) WITHIN GROUP (ORDER BY p.value) AS p95,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY p.value) AS p99
     FROM points p
     WHERE p.series_id = ANY($4::bigint[]) AND p.ts >= $1 AND p.ts < $2
     GROUP BY 1, 2`,
    [new Date(r.from), new Date(r.to), res, sample.ids],
  );
  const tg: GroupErrors = { query: 'trend', range: r.name, e95: [], e99: [] };
  let tMismatch = 0;
  let comparisons = 0;
  for (const [i, spec] of sample.specs.entries()) {
    const points = await trend(db, {
      metric: spec.def.metricName,
      from: r.from,
      to: r.to,
      resolutionMs: r.trendRes,
      tags: { hostname: spec.host },
    });
    const byT = new Map(points.map((p) => [Date.parse(p.t) / SECOND, p]));
    const mine = exactBuckets.filter((b) => b.series_id === sample.ids[i]);
    for (const b of mine) {
      comparisons += 1;
      tMismatch += compare(
        tally,
        tg,
        `${spec.def.metricName}{hostname=${spec.host}} @ ${new Date(b.t * SECOND).toISOString()}`,
        b,
        byT.get(b.t),
      );
    }
    if (points.length !== mine.length) tMismatch += Math.abs(points.length - mine.length);
  }
  return {
    query: 'trend',
    range: r.name,
    resolution: r.trendRes % HOUR === 0 ? `${r.trendRes / HOUR} h` : `${r.trendRes / MINUTE} min`,
    unit: 'series × bucket',
    comparisons,
    countMismatches: tMismatch,
    p95: stats(tg.e95),
    p99: stats(tg.e99),
  };
}

/** Writes the accuracy data through PointStore.write and builds rollup_1h for its closed hours. */
async function writeData(ctx: Ctx, specs: SeriesSpec[], dataEnd: number) {
  const steps = (ACCURACY_HOURS * HOUR) / ACCURACY_INTERVAL_MS;
  const data = timeline(
    specs,
    ctx.opts.seed + 4,
    dataEnd - ACCURACY_HOURS * HOUR,
    ACCURACY_INTERVAL_MS,
    steps,
  );
  progress(
    `accuracy: writing ${int(data.n)} points (${int(specs.length)} series, one per ${ACCURACY_INTERVAL_MS / SECOND} s over ${ACCURACY_HOURS} h) through PointStore.write`,
  );
  const store = new PointStore(ctx.db);
  const written = performance.now();
  for (const batch of batches(decodedEntries(data), ctx.flushDefaults.readEntries)) {
    await store.write(batch);
  }
  const writeMs = performance.now() - written;
  // The aggregate job builds rollup_1h for the closed hours; the open hour stays dirty.
  const agg = await aggregate({ db: ctx.db, log: ctx.log }, { reason: 'manual' });
  progress(
    `accuracy: written in ${seconds(writeMs)} s; rollup_1h built for ${agg.hours} closed hours`,
  );
  return { points: data.n, writeMs, aggregateHours: agg.hours };
}

export async function stageAccuracy(ctx: Ctx): Promise<AccuracyFigures> {
  const { db, opts } = ctx;
  await emptyTables(db);
  const specs = ctx.specs.slice(0, opts.accuracySeries);
  const idOf = new Map(specs.map((s, i) => [s.def.fingerprint, ctx.ids[i] as number]));
  const dataEnd = alignDown(Date.now(), MINUTE);
  const written = await writeData(ctx, specs, dataEnd);
  const step = specs.length / opts.sampleSeries;
  const sampled = Array.from(
    { length: opts.sampleSeries },
    (_, i) => specs[Math.floor(i * step)] as SeriesSpec,
  );
  const sample = { specs: sampled, ids: sampled.map((s) => idOf.get(s.def.fingerprint) as number) };

  const groups: AccuracyGroup[] = [];
  const tally: Tally = { all95: [], all99: [], worst: null };
  for (const r of accuracyRanges(dataEnd)) {
    const s = await summaryGroup(ctx, tally, r);
    const t = await trendGroup(ctx, tally, r, sample);
    groups.push(s, t);
    progress(
      `accuracy: ${r.name}: ${s.comparisons} metrics, ${t.comparisons} trend buckets compared`,
    );
  }
  await emptyTables(db);
  const { all95, all99 } = tally;
  const both = [...all95, ...all99];
  const countMismatches = groups.reduce((n, g) => n + g.countMismatches, 0);
  return {
    series: specs.length,
    sampleSeries: sampled.length,
    ...written,
    groups,
    all: {
      comparisons: all95.length,
      p95: stats(all95),
      p99: stats(all99),
      max: both.length ? Math.max(...both) : NaN,
      median: median(both),
    },
    worst: tally.worst,
    countMismatches,
  };
}
