// Import benchmark: `npm run bench:import -- [--rows N] [--interval S] [...]`.
//
// In one run, on one throw-away database (pulse_bench_<random>) and a random Redis prefix:
//   1. files     the benchmarks' data set (200 series, a point every --interval seconds each,
//                ending before the current hour) written as an NDJSON and a CSV file (untimed);
//   2. baseline  raw binary COPY of the same rows into `points` (same table, same indexes), as
//                one stream and split over 2 parallel streams; the faster one counts;
//   3. import    for each format: the real import of the file (src/import/run.ts), timed from
//                opening it until rollup_1h is built, then the same file again (it must store
//                nothing); what PostgreSQL holds is checked after each run.
// Results: a table on stdout, bench/results/import.json, and the Import section of
// bench/RESULTS.md. Progress goes to stderr. The database, Redis keys and files are removed at
// the end, also on failure or Ctrl-C. The stages live in scripts/bench/import/.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { HOUR } from '../src/infra/time.js';
import { sql } from '../src/metrics/queries.js';
import { stageCopy } from './bench/copy-stage.js';
import { cpuSnapshot } from './bench/cpu.js';
import { generateDataset } from './bench/data.js';
import { benchMain, openEnv, progress, redactUrl, type Resources } from './bench/env.js';
import { insertSeries } from './bench/flush.js';
import { FORMATS, type Format, writeFile } from './bench/import/files.js';
import { goalOf } from './bench/import/goals.js';
import {
  type Options,
  parseOptions,
  reducedNoteOf,
  reducedSize,
  USAGE,
} from './bench/import/options.js';
import { RESULTS_JSON, type RunSummary, writeResults } from './bench/import/results.js';
import { countsOf, emptyImported, type ImportRun, stageImport } from './bench/import/stages.js';
import { NOISE_NOTE, noisyRun, tables, usedNoteOf } from './bench/import/tables.js';
import { int, machineInfo, printTables, RESULTS_MD, ROOT } from './bench/report.js';

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

async function run(opts: Options, res: Resources): Promise<boolean> {
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_${suffix}`;
  const prefix = `pulse-bench-${suffix}-import`;
  res.prefixes.push(prefix);
  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}, ${int(opts.rows)} rows`,
  );

  // Every point in a closed hour: the import builds every hour it wrote.
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  progress(`generating ${int(opts.rows)} points (seed ${opts.seed})`);
  const perSeries = Math.ceil(opts.rows / 200);
  const data = generateDataset(opts.rows, opts.seed, end, perSeries * opts.intervalS * 1_000);
  const first = data.ts.reduce((a, b) => Math.min(a, b), Infinity);
  const log = pino({ level: 'warn', base: { bench: 'import' } }, pino.destination(2));
  const env = await openEnv(opts, res, database, log, (db) =>
    db.one(sql.pointsPartitionsEnsure, [utcDay(first), utcDay(end)]),
  );
  const { db } = env;

  const dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-bench-import-'));
  try {
    const files = {} as Record<Format, string>;
    const fileBytes = {} as Record<Format, number>;
    for (const format of FORMATS) {
      files[format] = path.join(dir, `points.${format}`);
      fileBytes[format] = await writeFile(files[format], format, data);
      progress(`wrote ${int(fileBytes[format] / 1_048_576)} MB of ${format} (untimed)`);
    }

    // Series rows first (untimed), so the COPY has their ids; the imports find them stored.
    const ids = await insertSeries(db, data.series);
    const baseline = await stageCopy(
      {
        db,
        dbUrl: env.dbUrl,
        ids,
        label: 'baseline',
        snapshot: () => cpuSnapshot(env.roles),
        count: async () => (await countsOf(db)).points,
        empty: () => db.none('TRUNCATE points'),
        res,
        sizeLine: true,
      },
      data,
    );

    const importEnv = {
      db,
      redis: env.redis,
      prefix,
      log,
      roles: env.roles,
      rows: opts.rows,
      baselineRowsPerSec: baseline.rowsPerSec,
    };
    const runs: ImportRun[] = [];
    for (const format of FORMATS) {
      await emptyImported(db);
      const firstRun = await stageImport(importEnv, files[format], format);
      runs.push(firstRun, await stageImport(importEnv, files[format], format, firstRun.counts));
    }

    const summary: RunSummary = {
      date: new Date().toISOString(),
      machine: machineInfo({ postgres: env.pgVersion, redis: env.redisVersion }),
      opts,
      series: data.series.length,
      spanHours: (end - first) / HOUR,
      fileBytes,
      baseline,
      runs,
      goals: runs.map(goalOf),
      reduced: reducedSize(opts),
      noisy: noisyRun(baseline, runs),
      tables: tables(opts.rows, baseline, runs),
      usedNote: usedNoteOf(baseline),
    };
    printResults(summary);
    await writeResults(summary);
    console.log(
      `wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`,
    );
    for (const g of summary.goals.filter((x) => !x.pass))
      console.log(`goal missed: ${g.name}: ${g.actual} (goal ${g.target})`);
    return summary.goals.every((g) => g.pass);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The tables and notes on stdout. */
function printResults(run: RunSummary): void {
  const { machine, tables: t } = run;
  console.log('');
  console.log(`Import benchmark — ${int(run.opts.rows)} rows, ${run.series} series, ${run.date}`);
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  if (run.reduced.length > 0) console.log(reducedNoteOf(run.reduced));
  console.log('');
  printTables([t.stage]);
  console.log(`${run.usedNote}\n`);
  printTables([t.detail, t.cpu]);
  if (run.noisy) console.log(`warning: ${NOISE_NOTE}\n`);
}

void benchMain('bench-import', USAGE, parseOptions, run, 'COPY connection');
