// The raw COPY baseline stage of the ingest and rollup benchmarks: binary COPY of the rows into
// `points` (same table, same indexes), as one stream and split in two halves over 2 parallel
// streams on 2 connections (the flush runs FLUSH_CONCURRENCY = 2 transactions); the faster counts.
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../../src/infra/db.js';
import {
  BASELINE_TEXT,
  type BaselineFigures,
  type BaselineKind,
  type CopyRun,
} from './baseline.js';
import { cpuCores, type CpuSnapshot } from './cpu.js';
import { copyChunks, type Dataset } from './data.js';
import { progress, type Resources } from './env.js';
import { fixed, int } from './report.js';

export const COPY_ROWS_PER_CHUNK = 2_000; // as PointStore streams them
const COPY_POINTS_SQL = 'COPY points (series_id, ts, value) FROM STDIN (FORMAT binary)';

/** Binary COPY streams into `points`, each on its own connection, all at once. */
export async function copyStreams(clients: pg.Client[], streams: Buffer[][]): Promise<void> {
  await Promise.all(
    streams.map((chunks, i) =>
      pipeline(Readable.from(chunks), (clients[i] as pg.Client).query(copyFrom(COPY_POINTS_SQL))),
    ),
  );
}

/** Two connections for COPY streams; with `res`, closed by the cleanup too if the run fails. */
export async function openCopyClients(dbUrl: string, res?: Resources): Promise<pg.Client[]> {
  const clients = [0, 1].map(
    (i) => new pg.Client({ connectionString: dbUrl, application_name: `pulse-bench-copy-${i}` }),
  );
  res?.clients.push(...clients);
  try {
    await Promise.all(clients.map((c) => c.connect()));
  } catch (err) {
    await closeCopyClients(clients, res);
    throw err;
  }
  return clients;
}

export async function closeCopyClients(clients: pg.Client[], res?: Resources): Promise<void> {
  if (res) res.clients = res.clients.filter((c) => !clients.includes(c));
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

/** Where the copy stage runs and how it measures, as each benchmark does it. */
export interface CopyStageEnv {
  db: Db;
  dbUrl: string;
  /** Series id of each of the data's series, same order. */
  ids: number[];
  /** Start of the stage's progress lines ("baseline", "flush baseline"). */
  label: string;
  /** CPU ticks by process group, before and after each timed run. */
  snapshot: () => CpuSnapshot;
  /** Rows stored in `points`, checked after each run. */
  count: () => Promise<number>;
  /** Empties what a run stored. */
  empty: () => Promise<unknown>;
  /** With it, the connections are closed by the run's cleanup too. */
  res?: Resources;
  /** Says how many MB of COPY data were built before copying. */
  sizeLine?: boolean;
}

/** The copy stage's figures, with the time spent building the COPY data (untimed). */
export interface CopyStageFigures extends BaselineFigures {
  buildMs: number;
}

/** One timed COPY run: each stream on its own connection, all at once; then checked and emptied. */
async function copyRun(
  env: CopyStageEnv,
  name: string,
  clients: pg.Client[],
  streams: Buffer[][],
  n: number,
): Promise<CopyRun> {
  await env.db.none('CHECKPOINT');
  const cpu0 = env.snapshot();
  const started = performance.now();
  await copyStreams(clients, streams);
  const ms = performance.now() - started;
  const cpu = cpuCores(cpu0, env.snapshot(), ms);
  const stored = await env.count();
  if (stored !== n) throw new Error(`baseline (${name}) stored ${stored} rows, expected ${n}`);
  await env.empty();
  progress(`${env.label}: ${name}: ${int(n)} rows in ${fixed(ms / 1_000, 2)} s`);
  return { streams: streams.length, ms, cpu, rowsPerSec: (n * 1_000) / ms };
}

/** The raw COPY baseline of `data`: 1 stream, then 2 parallel streams; the faster counts. */
export async function stageCopy(env: CopyStageEnv, data: Dataset): Promise<CopyStageFigures> {
  progress(`${env.label}: building binary COPY data (untimed)`);
  const built = performance.now();
  const whole = copyChunks(data, env.ids, COPY_ROWS_PER_CHUNK);
  const mid = Math.floor(data.n / 2);
  const halves = [
    copyChunks(data, env.ids, COPY_ROWS_PER_CHUNK, 0, mid),
    copyChunks(data, env.ids, COPY_ROWS_PER_CHUNK, mid, data.n),
  ];
  const buildMs = performance.now() - built;
  const bytes = whole.reduce((sum, c) => sum + c.length, 0);
  if (env.sizeLine)
    progress(`${env.label}: ${int(bytes / 1_048_576)} MB of binary COPY data; copying`);
  const clients = await openCopyClients(env.dbUrl, env.res);
  try {
    const single = await copyRun(env, '1 stream', clients, [whole], data.n);
    const parallel = await copyRun(env, '2 parallel streams', clients, halves, data.n);
    const used: BaselineKind = parallel.rowsPerSec > single.rowsPerSec ? 'parallel' : 'single';
    progress(`${env.label}: ratios use ${BASELINE_TEXT[used]} (the faster)`);
    return {
      single,
      parallel,
      used,
      rowsPerSec: (used === 'parallel' ? parallel : single).rowsPerSec,
      buildMs,
      bytes,
    };
  } finally {
    await closeCopyClients(clients, env.res);
  }
}
