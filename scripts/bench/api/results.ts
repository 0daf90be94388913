// What a run of the API benchmark reports: its goals and tables, bench/results/api.json and the
// API section of bench/RESULTS.md.
import path from 'node:path';
import { fixed, int, machineInfo, markdownTable, ROOT, writeResultFiles } from '../report.js';
import { type ApiFigures, type Ratios, ratiosOf } from './figures.js';
import { type ApiGoal, fleetGoals, type HeadlineGoals, headlineGoals } from './goals.js';
import { type LoadRun, unloadedSeconds } from './load.js';
import { CACHE_TTL } from './paths.js';
import { PLAN_SUMMARY_SQL } from './plan-sql.js';
import * as tables from './tables.js';

export const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'api.json');

export interface Report {
  f: ApiFigures;
  ratios: Ratios;
  headline: HeadlineGoals;
  fleet: ApiGoal[];
  /** Every goal: the headline ones, then the fleet table's. */
  goals: ApiGoal[];
  tables: {
    main: tables.Table;
    fleet: tables.Table;
    scale: tables.Table | null;
    runs: tables.Table;
    onRequest: tables.Table;
    cpu: tables.Table;
  };
  noisy: boolean;
  date: string;
  machine: Record<string, string | number>;
  dataLine: string;
  fillLine: string;
  liveLine: string;
}

export function reportOf(f: ApiFigures): Report {
  const ratios = ratiosOf(f);
  const headline = headlineGoals(ratios);
  const fleet = fleetGoals(f, ratios);
  const cpu = tables.cpuTable(f);
  const { filled, warmed } = f;
  return {
    f,
    ratios,
    headline,
    fleet,
    goals: [...Object.values(headline), ...fleet],
    tables: {
      main: tables.mainTable(f, ratios, headline),
      fleet: tables.fleetTable(fleet),
      scale: f.scale && tables.scaleTable(f.scale),
      runs: tables.runsTable(f),
      onRequest: tables.onRequestTable(f),
      cpu: cpu.table,
    },
    noisy: cpu.noisy,
    date: new Date().toISOString(),
    machine: machineInfo(f.versions),
    dataLine: `${int(filled.series)} series (${filled.metrics} metrics, ~${int(filled.series / filled.metrics)} series each), ${int(filled.points)} points over ${f.opts.days} days at one per series per minute`,
    fillLine: `Fill ${fixed(filled.totalMs / 1_000, 0)} s: binary COPY ${fixed(filled.copyMs / 1_000, 0)} s, rollup_1m by SQL ${fixed(filled.rollup1mMs / 1_000, 0)} s, rollup_1h by the aggregate job ${fixed(filled.rollup1hMs / 1_000, 0)} s, metric rollups by the upgrade's rebuild ${fixed(filled.metricMs / 1_000, 0)} s, VACUUM ANALYZE ${fixed(filled.vacuumMs / 1_000, 0)} s; warm job ${fixed(warmed.ms / 1_000, 1)} s (${warmed.entries} entries).`,
    liveLine: tables.liveLine(f),
  };
}

const loadJson = (r: LoadRun) => ({
  path: r.path,
  connections: r.connections,
  seconds: r.seconds,
  requests: r.requests,
  reqPerSec: r.reqPerSec,
  latencyMs: r.latency,
  responseBytes: r.responseBytes,
  bodyBytes: r.bodyBytes,
  errors: r.errors,
  non2xx: r.non2xx,
  timeouts: r.timeouts,
  cpuCores: r.cpu,
  ...(r.cache ? { cache: r.cache } : {}),
});

function optionsJson({ opts }: ApiFigures) {
  return {
    series: opts.series,
    days: opts.days,
    metrics: opts.metrics,
    connections: opts.connections,
    durationSeconds: opts.durationS,
    warmupSeconds: opts.warmupS,
    unloadedSeconds: unloadedSeconds(opts.durationS),
    sqlRuns: opts.sqlRuns,
    missRuns: opts.missRuns,
    seed: opts.seed,
  };
}

function dataJson({ filled }: ApiFigures) {
  return {
    series: filled.series,
    metrics: filled.metrics,
    points: filled.points,
    from: new Date(filled.fromMs).toISOString(),
    to: new Date(filled.toMs).toISOString(),
    rollup1mRows: filled.rollup1mRows,
    rollup1hRows: filled.rollup1hRows,
    sketchesCheckedAgainstKeyOf: filled.sketchChecked,
    sizesMb: filled.sizesMb,
    fillSeconds: {
      total: filled.totalMs / 1_000,
      copy: filled.copyMs / 1_000,
      rollup1m: filled.rollup1mMs / 1_000,
      rollup1h: filled.rollup1hMs / 1_000,
      vacuumAnalyze: filled.vacuumMs / 1_000,
    },
  };
}

function setupJson({ answers, warmed }: ApiFigures) {
  return {
    api: 'node dist/src/main.js api',
    apiEnv: { LOG_LEVEL: 'warn', SAMPLERS: 'none', CACHE_TTL, ADMIN_TOKEN: '(random)' },
    trendMetric: answers.trendMetric,
    summaryBodyBytes: answers.summaryBytes,
    summaryMetrics: answers.summaryMetrics,
    trendBodyBytes: answers.trendBytes,
    trendPoints: answers.trendPoints,
    warmJob: { seconds: warmed.ms / 1_000, entries: warmed.entries },
    planSql: PLAN_SUMMARY_SQL,
    notes: [
      'data: binary COPY into points (2 streams); rollup_1m by INSERT … SELECT … GROUP BY series, minute with sketch keys computed in SQL as keyOf does (a sample is checked against keyOf); every hour marked dirty, rollup_1h built by the aggregate job; metric rollups built from those by rebuildMetricRollups (the code migration 008 runs), one day per transaction; then VACUUM ANALYZE and CHECKPOINT',
      'system: node dist/src/main.js api with LOG_LEVEL=warn, SAMPLERS=none, ADMIN_TOKEN set, CACHE_TTL=1h (no worker re-warms during the run, so entries must outlive it; L1 still holds an entry at most 60 s); config variables from the shell are dropped',
      'warm: the real warm job (src/jobs/warm.ts) run once from the benchmark process on the same Redis prefix, then one GET per answer; every load run checks via GET /cache that it had no cache miss',
      'baseline: a bare Express 5 app (plain JavaScript, same Node) in another child process answering a fixed body: the very bytes of a warm API answer, with its ETag, Cache-Control and Last-Modified and a JSON content type',
      'load: autocannon in the benchmark process on the same cores, pipelining 1, an untimed warm-up before each timed run; latencies are every 2xx response time as autocannon measures it (float ms), percentiles by nearest rank; req/s = 2xx answers ÷ run seconds',
      "plan's SQL: AVG, MAX, MIN and PERCENTILE_CONT(0.95) over the raw rows of the last 24 h, grouped by metric_name, from performance_metrics_ts (points joined to series), on one connection; one untimed run first",
      'misses: POST /api/v1/cache/refresh with the entry name (admin token) before each GET, which then computes from the rollups (served_from computed); the first 3 of each kind are untimed (the API process has never computed such an answer: cold code), then --miss-runs timed; the time-series runs go over several metrics',
      'the raw-SQL goal compares one query with one request on an otherwise idle system (1 connection); the same ratio against the p50 under load is shown for information',
    ],
  };
}

function resultsJson({ f, ratios }: Report) {
  const { load, unloaded, plan, miss } = f;
  return {
    load: {
      summary: { api: loadJson(load.summaryApi), baseline: loadJson(load.summaryBaseline) },
      timeSeries: { api: loadJson(load.trendApi), baseline: loadJson(load.trendBaseline) },
    },
    unloaded: {
      summary: { api: loadJson(unloaded.summaryApi), baseline: loadJson(unloaded.summaryBaseline) },
      timeSeries: { api: loadJson(unloaded.trendApi) },
    },
    planSql: {
      rowsScanned: plan.rowsScanned,
      metrics: plan.metrics,
      runsMs: plan.runsMs,
      medianMs: plan.medianMs,
      cpuCores: plan.cpu,
    },
    live: f.live,
    scale: f.scale,
    miss: {
      summary24h: { runsMs: miss.summary24h.runsMs, medianMs: miss.summary24h.medianMs },
      summary7d: { runsMs: miss.summary7d.runsMs, medianMs: miss.summary7d.medianMs },
      timeSeries24h5m: { runsMs: miss.trend24h.runsMs, medianMs: miss.trend24h.medianMs },
      timeSeries7d1h: {
        metrics: miss.trendMetrics,
        runsMs: miss.trend7d.runsMs,
        medianMs: miss.trend7d.medianMs,
      },
    },
    ratios: {
      summaryThroughput: ratios.throughput,
      summaryP99: ratios.p99,
      summaryP50: load.summaryApi.latency.p50 / load.summaryBaseline.latency.p50,
      planSqlToWarmP50Unloaded: ratios.rawSql,
      planSqlToWarmP50Loaded: ratios.rawSqlLoaded,
      summaryMissToWarmP50Unloaded: miss.summary24h.medianMs / unloaded.summaryApi.latency.p50,
      timeSeriesThroughput: load.trendApi.reqPerSec / load.trendBaseline.reqPerSec,
      timeSeriesP99: load.trendApi.latency.p99 / load.trendBaseline.latency.p99,
      timeSeriesMissToWarmP50Unloaded: miss.trend7d.medianMs / unloaded.trendApi.latency.p50,
    },
    apiExitCode: f.apiExit,
  };
}

/** bench/results/api.json. */
function resultsFile(rep: Report): Record<string, unknown> {
  return {
    benchmark: 'api',
    date: rep.date,
    machine: rep.machine,
    options: optionsJson(rep.f),
    data: dataJson(rep.f),
    setup: setupJson(rep.f),
    noisy: rep.noisy,
    results: resultsJson(rep),
    goals: rep.goals.map((g) => ({
      name: g.name,
      target: g.target,
      actual: g.actual,
      pass: g.pass,
    })),
    pass: rep.goals.every((g) => g.pass),
  };
}

const md = (t: tables.Table) => markdownTable(t.header, t.rows, t.right);
/** Each part followed by an empty line. */
const paragraphs = (...parts: string[]) => parts.flatMap((p) => [p, '']);

/** The API section of bench/RESULTS.md. */
function markdown(rep: Report): string {
  const { machine, f } = rep;
  return [
    '## API',
    '',
    '`npm run bench:api` — the real API (`node dist/src/main.js api`) answering from its warm cache',
    'under autocannon, against a bare Express 5 app answering the same bytes in the same run; the',
    "plan's summary computed on request from the raw points; and both answers on a cache miss.",
    '',
    `Run of ${rep.date}: ${rep.dataLine} on ${machine.cpu}`,
    `(${machine.cores} cores, load generator on the same cores), Node ${machine.node}, PostgreSQL ${machine.postgres},`,
    `Redis ${machine.redis}, autocannon ${f.versions.autocannon}; ${f.opts.connections} connections for ${f.opts.durationS} s per load run.`,
    ...paragraphs(
      rep.fillLine,
      md(rep.tables.main),
      '### Fleet scale: misses, warm passes, a live dashboard under ingest',
      md(rep.tables.fleet),
      ...(rep.tables.scale ? [md(rep.tables.scale)] : []),
      rep.liveLine,
      md(rep.tables.runs),
      md(rep.tables.onRequest),
      'CPU: average cores used during each timed run; *other* is every process outside the benchmark.',
      md(rep.tables.cpu),
      ...(rep.noisy ? [`> ${tables.NOISE_NOTE}`] : []),
    ),
    'What each row measures: *summary 24h warm* is `GET /api/v1/metrics/summary?time_range=24h`',
    'served from the in-process cache (L1) with the whole middleware stack (request id, logging,',
    'helmet, auth check, parameter checks), against a bare Express handler sending the very same',
    "body with the same kind of headers, both under the same load generator. *Plan's SQL* is the",
    'summary as the plan computes it on each request — AVG, MAX, MIN and PERCENTILE_CONT(0.95) over',
    'the raw rows of the last 24 h grouped by metric — run directly in PostgreSQL, set against one',
    'warm request on an idle system (the goal) and against the p50 under load (info). *On a miss*',
    'the entry is removed with `POST /api/v1/cache/refresh` before each timed GET, which then',
    'computes the answer from the rollups (merged sketches) and stores it; *time-series 7d/1h* is',
    "one metric's trend at 1 h resolution from the cache (load) and, on a miss, over several metrics.",
    '',
  ].join('\n');
}

export async function writeResults(rep: Report): Promise<void> {
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await writeResultFiles(RESULTS_JSON, 'API', resultsFile(rep), markdown(rep), round);
}
