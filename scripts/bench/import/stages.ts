// The import benchmark's timed stage: the real import (src/import/run.ts, with the series limits
// as `npm run import` has them) of one file into the bench database, its CPU by process group,
// and what PostgreSQL holds afterwards, checked against the file: a first run stores every row
// and rolls every one of them up, a second run stores nothing.
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../../src/config.js';
import type { Db } from '../../../src/infra/db.js';
import { keysFor } from '../../../src/infra/keys.js';
import type { Logger } from '../../../src/infra/logger.js';
import { runImport, type ImportResult } from '../../../src/import/run.js';
import { SeriesRegistry } from '../../../src/metrics/series-registry.js';
import { storedSeries } from '../../../src/metrics/store.js';
import { cpuCores, cpuSnapshot, type Cores, type CpuRoles } from '../cpu.js';
import { progress } from '../env.js';
import { fixed, int } from '../report.js';
import type { Format } from './files.js';

/** What PostgreSQL holds after a run. */
export interface Counts {
  points: number;
  /** Points counted in rollup_1m, and its rows. */
  rollup1m: number;
  rollup1mRows: number;
  /** Points counted in rollup_1h. */
  rollup1h: number;
  regressionSlots: number;
  dirtyHours: number;
}

export interface ImportRun {
  format: Format;
  pass: 'first' | 'second';
  ms: number;
  rowsPerSec: number;
  /** rowsPerSec over the faster raw COPY's. */
  ratio: number;
  cpu: Cores;
  result: Pick<ImportResult, 'rowsRead' | 'imported' | 'duplicates' | 'rejected' | 'rollupHours'>;
  counts: Counts;
}

export interface ImportEnv {
  db: Db;
  redis: Redis;
  /** Redis prefix of the series registry. */
  prefix: string;
  log: Logger;
  roles: CpuRoles;
  rows: number;
  baselineRowsPerSec: number;
}

export async function countsOf(db: Db): Promise<Counts> {
  return db.one<Counts>(
    `SELECT (SELECT count(*)::float8 FROM points) AS points,
            (SELECT coalesce(sum(count), 0)::float8 FROM rollup_1m) AS "rollup1m",
            (SELECT count(*)::float8 FROM rollup_1m) AS "rollup1mRows",
            (SELECT coalesce(sum(count), 0)::float8 FROM rollup_1h) AS "rollup1h",
            (SELECT count(*)::float8 FROM regression_slots) AS "regressionSlots",
            (SELECT count(*)::float8 FROM rollup_dirty_hours) AS "dirtyHours"`,
  );
}

/** Empties what an import stored (the series stay, as a second file of one fleet would find them). */
export async function emptyImported(db: Db): Promise<void> {
  await db.none(
    `TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours, regression_slots, metric_rollup,
              metric_rollup_partial`,
  );
}

function check(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: ${int(actual)}, expected ${int(expected)}`);
}

/** One timed import of `file`; `before` is what the first run left (for a second run). */
export async function stageImport(
  env: ImportEnv,
  file: string,
  format: Format,
  before?: Counts,
): Promise<ImportRun> {
  const pass = before === undefined ? 'first' : 'second';
  const config = loadConfig({});
  const series = new SeriesRegistry(
    env.redis,
    keysFor(env.prefix),
    config.series,
    storedSeries(env.db),
  );
  await env.db.none('CHECKPOINT');
  const cpu0 = cpuSnapshot(env.roles);
  const started = performance.now();
  const r = await runImport({
    file,
    format,
    db: env.db,
    log: env.log,
    acceptMs: config.retention.acceptMs,
    stderr: { write: () => true },
    progress: 'none',
    series,
  });
  const ms = performance.now() - started;
  const cpu = cpuCores(cpu0, cpuSnapshot(env.roles), ms);
  const counts = await countsOf(env.db);
  const n = env.rows;
  check(`${format} ${pass} run: rows read`, r.rowsRead, n);
  check(`${format} ${pass} run: rows rejected`, r.rejected, 0);
  if (before === undefined) {
    check(`${format} first run: rows imported`, r.imported, n);
    check(`${format} first run: points stored`, counts.points, n);
    check(`${format} first run: points in rollup_1m`, counts.rollup1m, n);
    check(`${format} first run: points in rollup_1h (every hour is closed)`, counts.rollup1h, n);
    check(`${format} first run: hours left dirty`, counts.dirtyHours, 0);
  } else {
    check(`${format} second run: rows imported`, r.imported, 0);
    check(`${format} second run: rows counted as stored already`, r.duplicates, n);
    for (const k of Object.keys(before) as (keyof Counts)[])
      check(`${format} second run: ${k} after it`, counts[k], before[k]);
  }
  const rowsPerSec = (n * 1_000) / ms;
  progress(
    `import ${format} (${pass} run): ${int(n)} rows in ${fixed(ms / 1_000, 2)} s, ${int(rowsPerSec)} rows/s, ` +
      `${fixed(rowsPerSec / env.baselineRowsPerSec, 2)} of raw COPY`,
  );
  return {
    format,
    pass,
    ms,
    rowsPerSec,
    ratio: rowsPerSec / env.baselineRowsPerSec,
    cpu,
    result: {
      rowsRead: r.rowsRead,
      imported: r.imported,
      duplicates: r.duplicates,
      rejected: r.rejected,
      rollupHours: r.rollupHours,
    },
    counts,
  };
}
