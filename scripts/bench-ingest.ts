// Ingest benchmark: `npm run bench:ingest -- [--points N] [--layout all|split|both] [...]`.
//
// In one run, on one throw-away database (pulse_bench_<random>) and random Redis prefixes:
//   1. baseline  raw binary COPY of the rows into `points` (same table, same indexes), twice:
//                as one stream, and split in two halves over 2 parallel streams on 2 connections
//                (the flush stage runs FLUSH_CONCURRENCY = 2 transactions); the faster one counts;
//   2. flush     the real flush handler draining a pre-filled Redis buffer (worker concurrency);
//   3. e2e       the real system (dist/src/main.js, as npm start runs it, in child processes) fed over HTTP until stored, per
//                process layout: one `all` process, and/or one `api` plus one `worker` process.
// Stages 2 and 3 are reported as ratios to the faster baseline, so the figures compare across
// machines.
// Results: a table on stdout, bench/results/ingest.json, and the Ingest section of
// bench/RESULTS.md. Progress goes to stderr. The database and Redis keys are removed at the end,
// also on failure or Ctrl-C.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Db } from '../src/infra/db.js';
import { ENTRY_POINTS } from '../src/metrics/buffer.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { PointStore } from '../src/metrics/store.js';
import {
  BASELINE_LABEL,
  BASELINE_TEXT,
  type BaselineKind,
  type CopyRun,
} from './bench/baseline.js';
import {
  COPY_ROWS_PER_CHUNK,
  type CopyStageFigures,
  stageCopy as runCopyStage,
} from './bench/copy-stage.js';
import { type Cores, CPU_GROUPS, type CpuRoles, cpuSnapshot, NOISE_CORES } from './bench/cpu.js';
import { type Dataset, generateDataset } from './bench/data.js';
import { benchMain, openEnv, progress, redactUrl, type Resources } from './bench/env.js';
import { insertSeries } from './bench/flush.js';
import {
  APPEND_CHUNK,
  flushDefaults,
  type FlushRun,
  stageFlush as runFlushStage,
} from './bench/flush-stage.js';
import * as cli from './bench/options.js';
import {
  fixed,
  type Goal,
  int,
  markdownTable,
  RESULTS_MD,
  ROOT,
  textTable,
  writeResultFiles,
} from './bench/report.js';
import {
  type E2eEnv,
  type E2eFigures,
  requestBodies,
  stageE2e,
  workerProcess,
} from './bench/ingest/e2e.js';
import type { ProcessFigures, Role } from './bench/ingest/pulse.js';
import {
  HTTP_CONCURRENCY,
  type Layout,
  LAYOUT_LABEL,
  LAYOUTS,
  type Options,
  REQUEST_POINTS,
  SPAN_MS,
} from './bench/ingest/setup.js';
import { UsageError } from '../src/infra/usage-error.js';

const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'ingest.json');

const GOALS = { flushRatio: 0.8, e2eRatio: 0.5, rssMb: 200, warmCostRatio: 0.9 };

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node --import tsx scripts/bench-ingest.ts [options]
  --points N            points to ingest in each stage (default 1000000)
  --layout L            process layout(s) for end to end: all (one \`all\` process), split (one
                        \`api\` plus one \`worker\` process) or both (default both)
${cli.DATABASE_URL_USAGE}
  --redis-url URL       Redis to buffer in (default $REDIS_URL or redis://127.0.0.1:6379)
  --cold                flush stage without its warm-up batch (compiled code, pool, series cache)
${cli.COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = cli.parseBenchArgs(
    argv,
    {
      points: { type: 'string' },
      layout: { type: 'string' },
      cold: { type: 'boolean' },
    },
    USAGE,
  );
  const layout = (values.layout ?? 'both').trim();
  if (layout !== 'both' && !LAYOUTS.includes(layout as Layout))
    throw new UsageError('--layout: expected all, split or both');
  return {
    points: cli.wholeOption(values.points, 1_000_000, 'points', 1_000),
    layouts: layout === 'both' ? LAYOUTS : [layout as Layout],
    ...cli.commonOptions(values),
    cold: values.cold ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Small utilities

async function countPoints(db: Db): Promise<number> {
  return (await db.one<{ n: number }>('SELECT count(*)::int AS n FROM points')).n;
}

// ---------------------------------------------------------------------------------------------
// Stages 1 and 2: raw COPY baselines; the flush handler draining a full buffer

type BaselineFigures = CopyStageFigures;

interface FlushFigures extends FlushRun {
  ratio: number;
}

async function stageCopy(
  dbUrl: string,
  db: Db,
  data: Dataset,
  ids: number[],
  roles: CpuRoles,
): Promise<BaselineFigures> {
  return runCopyStage(
    {
      db,
      dbUrl,
      ids,
      label: 'baseline',
      snapshot: () => cpuSnapshot(roles),
      count: () => countPoints(db),
      empty: () => db.none('TRUNCATE points'),
      sizeLine: true,
    },
    data,
  );
}

async function stageFlush(
  db: Db,
  redis: Redis,
  prefix: string,
  data: Dataset,
  baseline: BaselineFigures,
  roles: CpuRoles,
  warmup: boolean,
): Promise<FlushFigures> {
  const r = await runFlushStage(
    {
      db,
      redis,
      prefix,
      store: new PointStore(db),
      log: pino({ level: 'warn', base: { bench: 'flush' } }, pino.destination(2)),
      defaults: flushDefaults(),
      warmup,
      snapshot: () => cpuSnapshot(roles),
      count: () => countPoints(db),
      empty: () => db.none('TRUNCATE points'),
    },
    data,
  );
  await db.none('TRUNCATE points');
  progress(`flush: ${int(data.n)} points in ${fixed(r.ms / 1_000, 2)} s, ${r.batches} batches`);
  return { ...r, ratio: r.pointsPerSec / baseline.rowsPerSec };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Goals {
  flushRatio: Goal;
  e2e: Partial<Record<Layout, { ratio: Goal; workerRss: Goal; exitZero: Goal }>>;
}

const mb = (x: number | null) => (x === null ? 'unknown' : `${fixed(x, 0)} MB`);
const exitText = (p: ProcessFigures) =>
  p.exitCode === null
    ? `signal ${p.exitSignal}${p.killed ? ' (killed)' : ''}`
    : `exit ${p.exitCode}`;

function goalsOf(flushF: FlushFigures, e2es: E2eFigures[]): Goals {
  const goals: Goals = {
    flushRatio: {
      name: 'flush / raw COPY',
      target: `≥ ${fixed(GOALS.flushRatio, 2)}`,
      actual: fixed(flushF.ratio, 2),
      pass: flushF.ratio >= GOALS.flushRatio,
    },
    e2e: {},
  };
  for (const e2e of e2es) {
    const label = LAYOUT_LABEL[e2e.layout];
    const rss = workerProcess(e2e)?.peakRssMb ?? null;
    goals.e2e[e2e.layout] = {
      ratio: {
        name: `end to end (${label}) / raw COPY`,
        target: `≥ ${fixed(GOALS.e2eRatio, 2)}`,
        actual: fixed(e2e.ratio, 2),
        pass: e2e.ratio >= GOALS.e2eRatio,
      },
      workerRss: {
        name: `worker process peak RSS (${label})`,
        target: `≤ ${GOALS.rssMb} MB`,
        actual: mb(rss),
        pass: rss !== null && rss <= GOALS.rssMb,
      },
      exitZero: {
        name: `exit on SIGTERM (${label})`,
        target: 'exit 0',
        actual: e2e.processes
          .map((p) => (e2e.processes.length > 1 ? `${p.role} ${exitText(p)}` : exitText(p)))
          .join(', '),
        pass: e2e.processes.every((p) => p.exitCode === 0),
      },
    };
  }
  return goals;
}

function allGoals(goals: Goals): Goal[] {
  return [
    goals.flushRatio,
    ...Object.values(goals.e2e).flatMap((g) => [g.ratio, g.workerRss, g.exitZero]),
  ];
}

function tables(
  n: number,
  baseline: BaselineFigures,
  flushF: FlushFigures,
  e2es: E2eFigures[],
  goals: Goals,
) {
  const verdict = (g: Goal) => (g.pass ? 'pass' : 'FAIL');
  const e2eLabel = (e2e: E2eFigures) => `End to end (HTTP, ${LAYOUT_LABEL[e2e.layout]})`;
  const copyRow = (kind: BaselineKind) => {
    const run = baseline[kind];
    return [
      BASELINE_LABEL[kind],
      int(n),
      fixed(run.ms / 1_000, 2),
      int(run.rowsPerSec),
      fixed(run.rowsPerSec / baseline.rowsPerSec, 2),
      '—',
      kind === baseline.used ? 'baseline' : '—',
    ];
  };
  const stage = {
    header: ['Stage', 'Points', 'Time (s)', 'Points/s', 'vs COPY', 'Goal', 'Result'],
    right: [1, 2, 3, 4],
    rows: [
      copyRow('single'),
      copyRow('parallel'),
      [
        `Flush (Redis → PG, ${flushF.concurrency} concurrent)`,
        int(n),
        fixed(flushF.ms / 1_000, 2),
        int(flushF.pointsPerSec),
        fixed(flushF.ratio, 2),
        goals.flushRatio.target,
        verdict(goals.flushRatio),
      ],
      ...e2es.map((e2e) => {
        const g = goals.e2e[e2e.layout]?.ratio as Goal;
        return [
          e2eLabel(e2e),
          int(n),
          fixed(e2e.ms / 1_000, 2),
          int(e2e.pointsPerSec),
          fixed(e2e.ratio, 2),
          g.target,
          verdict(g),
        ];
      }),
    ],
  };

  const pct = (x: number) => `${int((100 * x) / flushF.loopMs)}%`;
  const detailRows: string[][] = [];
  for (const e2e of e2es) {
    const g = goals.e2e[e2e.layout];
    if (!g) continue;
    detailRows.push([
      `Worker process peak RSS (VmHWM), ${LAYOUT_LABEL[e2e.layout]}`,
      g.workerRss.actual,
      g.workerRss.target,
      verdict(g.workerRss),
    ]);
    for (const p of e2e.processes.filter((x) => x.role === 'api')) {
      detailRows.push([
        `API process peak RSS (VmHWM), ${LAYOUT_LABEL[e2e.layout]}`,
        mb(p.peakRssMb),
        '—',
        'info',
      ]);
    }
  }
  for (const e2e of e2es) {
    const g = goals.e2e[e2e.layout];
    if (g)
      detailRows.push([
        `Exit on SIGTERM, ${LAYOUT_LABEL[e2e.layout]}`,
        g.exitZero.actual,
        g.exitZero.target,
        verdict(g.exitZero),
      ]);
  }
  // Reads of the next batch overlap the current write (prefetch), so these shares may add up
  // to more than 100 %: each is the time spent inside that call, over both flush loops.
  detailRows.push([
    'Flush loop time inside read / write / ack (overlapping)',
    `${pct(flushF.readMs)} / ${pct(flushF.writeMs)} / ${pct(flushF.ackMs)}`,
    '—',
    '—',
  ]);
  const detail = { header: ['Measure', 'Value', 'Goal', 'Result'], right: [], rows: detailRows };

  const perLayout = (f: (e: E2eFigures) => string) => e2es.map(f);
  const e2eDetail = {
    header: ['End to end', ...e2es.map((e) => LAYOUT_LABEL[e.layout])],
    right: e2es.map((_, i) => i + 1),
    rows: [
      ['HTTP accept rate (points/s)', ...perLayout((e) => int(e.acceptPointsPerSec))],
      ['Drain after last POST (s)', ...perLayout((e) => fixed(e.drainMs / 1_000, 2))],
      ['Max buffer depth (points)', ...perLayout((e) => int(e.maxBufferDepth))],
      [
        'POST latency p50 / p99 (ms)',
        ...perLayout((e) => `${int(e.latencyP50Ms)} / ${int(e.latencyP99Ms)}`),
      ],
      ['503 answers, retried', ...perLayout((e) => int(e.retries503))],
      [
        'Warning/error log lines',
        ...perLayout((e) => int(e.processes.reduce((k, p) => k + p.warnLines, 0))),
      ],
    ],
  };

  // /proc counts CPU in 10 ms ticks: below a second the averages say nothing. A pulse column
  // that does not apply to a stage (no such process ran) shows "—".
  const cores = (c: Cores, ms: number, running: Role[]) =>
    CPU_GROUPS.map((g) =>
      ms < 1_000 || ((g === 'all' || g === 'api' || g === 'worker') && !running.includes(g))
        ? '—'
        : fixed(c[g], 2),
    );
  const cpu = {
    header: [
      'CPU (cores used)',
      'bench',
      'pulse all',
      'pulse api',
      'pulse worker',
      'postgres',
      'redis',
      'other',
    ],
    right: [1, 2, 3, 4, 5, 6, 7],
    rows: [
      [BASELINE_LABEL.single, ...cores(baseline.single.cpu, baseline.single.ms, [])],
      [BASELINE_LABEL.parallel, ...cores(baseline.parallel.cpu, baseline.parallel.ms, [])],
      [`Flush (Redis → PG, ${flushF.concurrency} concurrent)`, ...cores(flushF.cpu, flushF.ms, [])],
      ...e2es.map((e) => [
        e2eLabel(e),
        ...cores(
          e.cpu,
          e.ms,
          e.processes.map((p) => p.role),
        ),
      ]),
    ],
  };
  return { stage, detail, e2eDetail, cpu };
}

async function writeResults(report: Record<string, unknown>, markdown: string): Promise<void> {
  // Three decimals are plenty for seconds, rates and ratios.
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await writeResultFiles(RESULTS_JSON, 'Ingest', report, markdown, round);
}

// ---------------------------------------------------------------------------------------------

async function run(opts: Options, res: Resources): Promise<boolean> {
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_${suffix}`;
  const flushPrefix = `pulse-bench-${suffix}-flush`;
  // A fresh prefix per layout: no buffer, group or queue state carries over between runs.
  const e2ePrefix = (layout: Layout) => `pulse-bench-${suffix}-e2e-${layout}`;
  res.prefixes.push(flushPrefix, ...opts.layouts.map(e2ePrefix));

  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}, ${int(opts.points)} points`,
  );
  const { db, dbUrl, redis, pgVersion, redisVersion, roles } = await openEnv(
    opts,
    res,
    database,
    pino({ level: 'warn' }, pino.destination(2)),
    (db) => ensurePartitions(db),
  );

  progress(`generating ${int(opts.points)} points (seed ${opts.seed})`);
  const data = generateDataset(opts.points, opts.seed, Date.now(), SPAN_MS);

  // Series rows first (untimed): every stage then meets existing series, as a running system does.
  const ids = await insertSeries(db, data.series);

  const baseline = await stageCopy(dbUrl, db, data, ids, roles);
  const flushF = await stageFlush(db, redis, flushPrefix, data, baseline, roles, !opts.cold);
  const env: E2eEnv = {
    res,
    db,
    dbUrl,
    redisUrl: opts.redisUrl,
    data,
    bodies: requestBodies(data),
    baseline,
    roles,
    count: () => countPoints(db),
  };
  const e2es: E2eFigures[] = [];
  for (const layout of opts.layouts) e2es.push(await stageE2e(env, layout, e2ePrefix(layout)));

  // The last layout again with the warm queue paused: warming must cost ingest little.
  const warmLayout = opts.layouts[opts.layouts.length - 1] as Layout;
  const noWarmPrefix = `pulse-bench-${suffix}-e2e-nowarm`;
  res.prefixes.push(noWarmPrefix);
  const noWarm = await stageE2e(env, warmLayout, noWarmPrefix, true);
  const warmOn = e2es[e2es.length - 1] as E2eFigures;
  const warmCost = warmOn.pointsPerSec / noWarm.pointsPerSec;
  const warmGoal: Goal = {
    name: `end to end (${LAYOUT_LABEL[warmLayout]}) with the warm job ÷ warm queue paused`,
    target: `≥ ${fixed(GOALS.warmCostRatio, 2)}`,
    actual: fixed(warmCost, 2),
    pass: warmCost >= GOALS.warmCostRatio,
  };
  const warmLine = `Warm job's cost to ingest (${LAYOUT_LABEL[warmLayout]}): ${int(warmOn.pointsPerSec)} points/s with ${warmOn.warmPasses} warm passes during the run, ${int(noWarm.pointsPerSec)} points/s with the warm queue paused: ratio ${fixed(warmCost, 2)} (goal ${warmGoal.target}).`;

  const goals = goalsOf(flushF, e2es);
  const goalList = [...allGoals(goals), warmGoal];
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Number((os.totalmem() / 1_073_741_824).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: pgVersion,
    redis: redisVersion,
  };
  const date = new Date().toISOString();
  const t = tables(opts.points, baseline, flushF, e2es, goals);
  const usedNote = `Ratios ("vs COPY") use the faster raw COPY: ${BASELINE_TEXT[baseline.used]}, ${int(baseline.rowsPerSec)} rows/s.`;

  console.log('');
  console.log(
    `Ingest benchmark — ${int(opts.points)} points, ${data.series.length} series, ${date}`,
  );
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  console.log('');
  console.log(textTable(t.stage.header, t.stage.rows, t.stage.right));
  console.log(usedNote);
  console.log('');
  for (const table of [t.detail, t.e2eDetail, t.cpu]) {
    console.log(textTable(table.header, table.rows, table.right));
    console.log('');
  }
  console.log(warmLine);
  console.log('');
  const timed = [baseline.single, baseline.parallel, flushF, ...e2es, noWarm];
  const noisy = timed.some((x) => x.ms >= 1_000 && x.cpu.other > NOISE_CORES);
  const noiseNote = `Processes outside the benchmark used more than ${NOISE_CORES} cores during a stage: the machine was not quiet, so the ratios may be off; run again.`;
  if (noisy) console.log(`warning: ${noiseNote}\n`);

  const copyJson = (run: CopyRun) => ({
    streams: run.streams,
    cpuCores: run.cpu,
    seconds: run.ms / 1_000,
    rowsPerSec: run.rowsPerSec,
    ratioToBaseline: run.rowsPerSec / baseline.rowsPerSec,
  });
  const e2eJson = (e2e: E2eFigures) => ({
    processes: e2e.processes.map((p) => p.role),
    cpuCores: e2e.cpu,
    seconds: e2e.ms / 1_000,
    pointsPerSec: e2e.pointsPerSec,
    ratioToBaseline: e2e.ratio,
    postSeconds: e2e.postMs / 1_000,
    acceptPointsPerSec: e2e.acceptPointsPerSec,
    drainSeconds: e2e.drainMs / 1_000,
    requests: e2e.requests,
    retries503: e2e.retries503,
    latencyP50Ms: e2e.latencyP50Ms,
    latencyP99Ms: e2e.latencyP99Ms,
    maxBufferDepth: e2e.maxBufferDepth,
    bufferGrew: e2e.maxBufferDepth > 0,
    workerPeakRssMb: workerProcess(e2e)?.peakRssMb ?? null,
    byProcess: Object.fromEntries(
      e2e.processes.map((p) => [
        p.role,
        {
          runsFlushWorker: p.flushWorker,
          peakRssMb: p.peakRssMb,
          cpuCores: e2e.cpu[p.role],
          exitCode: p.exitCode,
          exitSignal: p.exitSignal,
          killedAfterTimeout: p.killed,
          warnLines: p.warnLines,
        },
      ]),
    ),
  });
  const goalJson = (g: Goal, target: number, actual: number | null) => ({
    target,
    actual,
    pass: g.pass,
  });

  const report = {
    benchmark: 'ingest',
    date,
    machine,
    points: opts.points,
    series: data.series.length,
    seed: opts.seed,
    setup: {
      timestampsSpanHours: SPAN_MS / 3_600_000,
      appendChunkPoints: APPEND_CHUNK,
      bufferEntryPoints: ENTRY_POINTS,
      flushConcurrency: flushF.concurrency,
      flushReadEntries: flushF.readEntries,
      requestPoints: REQUEST_POINTS,
      httpConcurrency: HTTP_CONCURRENCY,
      copyRowsPerChunk: COPY_ROWS_PER_CHUNK,
      layouts: Object.fromEntries(opts.layouts.map((l) => [l, LAYOUT_LABEL[l]])),
      notes: [
        'baseline: binary COPY data built before timing; run once as one COPY stream on one connection, then (after TRUNCATE) split in two halves copied by 2 parallel COPY streams on 2 connections; every ratio uses the faster of the two',
        'a CHECKPOINT runs before each baseline run, the flush stage and each end-to-end run',
        'flush: one untimed warm-up batch first (same handler, store and pool), unless --cold',
        'e2e: the system runs on its default configuration (config variables from the shell are dropped); layout all = one `main.ts all` process, layout split = one `main.ts worker` plus one `main.ts api` process on the same database and Redis prefix; a fresh Redis prefix and an empty points table per layout',
        'rss: VmHWM of each pulse process; the goal applies to the process running the flush worker',
        'cpu: average cores used during the timed part, by process group; "other" is everything else on the machine',
      ],
    },
    noisy,
    results: {
      baseline: {
        used: baseline.used,
        rowsPerSec: baseline.rowsPerSec,
        buildSeconds: baseline.buildMs / 1_000,
        dataMb: baseline.bytes / 1_048_576,
        single: copyJson(baseline.single),
        parallel: copyJson(baseline.parallel),
      },
      flush: {
        cpuCores: flushF.cpu,
        seconds: flushF.ms / 1_000,
        pointsPerSec: flushF.pointsPerSec,
        ratioToBaseline: flushF.ratio,
        fillSeconds: flushF.fillMs / 1_000,
        warmupPoints: flushF.warmupPoints,
        batches: flushF.batches,
        loopSecondsSummed: flushF.loopMs / 1_000,
        readSeconds: flushF.readMs / 1_000,
        writeSeconds: flushF.writeMs / 1_000,
        ackSeconds: flushF.ackMs / 1_000,
        decodeAndRestSeconds:
          (flushF.loopMs - flushF.readMs - flushF.writeMs - flushF.ackMs) / 1_000,
      },
      e2e: Object.fromEntries(e2es.map((e) => [e.layout, e2eJson(e)])),
      e2eWarmPaused: { layout: warmLayout, ...e2eJson(noWarm) },
      warmPassesDuringE2e: warmOn.warmPasses,
    },
    goals: {
      baseline: baseline.used,
      flushRatio: goalJson(goals.flushRatio, GOALS.flushRatio, flushF.ratio),
      e2e: Object.fromEntries(
        e2es.map((e) => {
          const g = goals.e2e[e.layout] as NonNullable<Goals['e2e'][Layout]>;
          return [
            e.layout,
            {
              ratio: goalJson(g.ratio, GOALS.e2eRatio, e.ratio),
              workerPeakRssMb: goalJson(
                g.workerRss,
                GOALS.rssMb,
                workerProcess(e)?.peakRssMb ?? null,
              ),
              exitZero: {
                target: 0,
                actual: Object.fromEntries(e.processes.map((p) => [p.role, p.exitCode])),
                pass: g.exitZero.pass,
              },
            },
          ];
        }),
      ),
      warmCostRatio: goalJson(warmGoal, GOALS.warmCostRatio, warmCost),
    },
    pass: goalList.every((g) => g.pass),
  };

  const markdown = [
    '## Ingest',
    '',
    '`npm run bench:ingest` — raw COPY into `points` is the baseline; the flush stage drains a full',
    'Redis buffer with the real flush handler; end to end posts over HTTP to the real system until',
    'every point is stored, once per process layout.',
    '',
    `Run of ${date}: ${int(opts.points)} points over ${data.series.length} series on ${machine.cpu}`,
    `(${machine.cores} cores), Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}.`,
    '',
    markdownTable(t.stage.header, t.stage.rows, t.stage.right),
    '',
    usedNote,
    '',
    markdownTable(t.detail.header, t.detail.rows, t.detail.right),
    '',
    markdownTable(t.e2eDetail.header, t.e2eDetail.rows, t.e2eDetail.right),
    '',
    warmLine,
    '',
    'CPU: average cores used during each timed stage; *pulse all / api / worker* are the pulse',
    'processes under test, *other* is every process outside the benchmark (noise on a shared machine).',
    '',
    markdownTable(t.cpu.header, t.cpu.rows, t.cpu.right),
    '',
    ...(noisy ? [`> ${noiseNote}`, ''] : []),
    'What each stage measures: *raw COPY* is PostgreSQL alone taking the prepared binary rows,',
    `once as one COPY stream and once split in two halves over two parallel streams (the flush stage`,
    `runs ${flushF.concurrency} transactions at once, so one stream alone would be a soft baseline); every ratio uses`,
    'the faster of the two. *Flush* is the real flush handler (read, decode, series ids, binary COPY,',
    'ack) draining a pre-filled Redis buffer with its default concurrency, in the benchmark process.',
    '*End to end* is the real system as separate processes — one all-in-one process, or one `api`',
    'plus one `worker` process on the same database and Redis prefix — fed over HTTP from the first',
    'POST until every point is stored; the RSS goal applies to the process running the flush worker.',
    '',
  ].join('\n');
  await writeResults(report, markdown);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  for (const g of goalList.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${g.actual} (goal ${g.target})`);
  return goalList.every((g) => g.pass);
}

void benchMain('bench-ingest', USAGE, parseOptions, run);
