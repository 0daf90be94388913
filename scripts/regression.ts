// npm run regression: runs regression detection now, as a job on the regression queue (so it
// shows in Bull Board), processed by this process and any running workers; waits for it and
// prints the report as a table.
import { Job, Queue } from 'bullmq';
import type { Config } from '../src/config.js';
import type { Db } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { closeRedis, createRedis } from '../src/infra/redis.js';
import type { RegressionRun } from '../src/jobs/regression.js';
import { DashboardCache } from '../src/cache/dashboard-cache.js';
import { keysFor } from '../src/infra/keys.js';
import { QUEUE } from '../src/workers/queues.js';
import { startRegressionWorker } from '../src/workers/upkeep-workers.js';
import { runIfMain, withServices } from '../src/infra/script.js';

export async function runRegression(deps: {
  db: Db;
  redisUrl: string;
  config: Config;
}): Promise<RegressionRun> {
  const log = createLogger('warn', { component: 'regression' });
  const connection = createRedis(deps.redisUrl, 'pulse-regression-cli', 'bullmq');
  const commands = createRedis(deps.redisUrl, 'pulse-regression-cli', 'command');
  const queue = new Queue(QUEUE.regression, { connection, prefix: deps.config.prefix });
  // A run this process makes replaces the dashboard's cached report before it is returned.
  const cache = new DashboardCache(commands, keysFor(deps.config.prefix), log);
  const worker = startRegressionWorker({
    connection,
    prefix: deps.config.prefix,
    db: deps.db,
    log,
    config: { ...deps.config.regression, minSegmentMinutes: 60 },
    cache: { cache, ttlMs: deps.config.cache.ttlMs },
  });
  try {
    const added = await queue.add(
      'regression',
      { reason: 'manual' },
      { removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } },
    );
    for (;;) {
      const job = await Job.fromId(queue, added.id as string);
      const state = await job?.getState();
      if (state === 'completed') return job?.returnvalue as RegressionRun;
      if (state === 'failed') throw new Error(`regression run failed: ${job?.failedReason}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await worker.close();
    await queue.close();
    await closeRedis(connection);
    await closeRedis(commands);
  }
}

const fmt = (n: number | null, digits = 1) => (n === null ? '—' : n.toFixed(digits));

export function table(run: RegressionRun): string {
  const header = [
    'severity',
    'metric',
    'series',
    'baseline',
    'recent',
    'avg Δ%',
    'shift %',
    'p95 Δ%',
    'p',
    'change point',
  ];
  const rows = run.entries.map((e) => [
    e.regression_severity,
    e.metric_name,
    e.series
      ? Object.entries({
          ...e.series.tags,
          ...(e.series.instance_id ? { instance: e.series.instance_id } : {}),
        })
          .map(([k, v]) => `${k}=${v}`)
          .join(',')
      : '(all)',
    fmt(e.baseline_avg, 3),
    fmt(e.recent_avg, 3),
    fmt(e.avg_change_percent),
    fmt(e.shift_percent),
    fmt(e.p95_change_percent),
    e.p_value < 1e-4 ? '<1e-4' : e.p_value.toFixed(4),
    e.change_point ?? '—',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [
    `regression run ${run.run_id} at ${run.computed_at}: ${run.analysed} analysed${run.skipped_series > 0 ? ` (${run.skipped_series} series past MAX_SERIES_PER_METRIC or MAX_SERIES judged only within their metric)` : ''}, ${run.listed} listed (${run.counts.CRITICAL} CRITICAL, ${run.counts.WARNING} WARNING, ${run.counts.NORMAL} NORMAL)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

async function main(): Promise<number> {
  const run = await withServices('regression', runRegression);
  process.stdout.write(`${table(run)}\n`);
  return run.counts.CRITICAL > 0 ? 3 : 0;
}

runIfMain(import.meta.url, 'regression', main);
