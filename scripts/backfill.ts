// npm run backfill -- --from ISO --to ISO [--metric NAME] [--dry-run]
// Recomputes rollups for a range from the raw points as one BullMQ flow (a child job per hour,
// visible in Bull Board), processed by this process and by any running workers, with a progress
// bar. Idempotent: recomputing replaces, so a second run changes nothing.
import { parseArgs } from 'node:util';
import { FlowProducer, Job, Queue } from 'bullmq';
import type { Config } from '../src/config.js';
import type { Db } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { closeRedis, createRedis } from '../src/infra/redis.js';
import { hoursIn, type BackfillRangeResult } from '../src/jobs/backfill.js';
import { QUEUE } from '../src/workers/queues.js';
import { startBackfillWorker } from '../src/workers/upkeep-workers.js';
import { progressLine } from '../src/infra/progress.js';
import { runIfMain, withServices } from '../src/infra/script.js';
import { UsageError } from '../src/infra/usage-error.js';

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const MAX_HOURS = 24 * 400;

export interface BackfillOptions {
  from: string;
  to: string;
  metric?: string | undefined;
  dryRun?: boolean;
  /** Progress callback: hours done of total. */
  onProgress?: (done: number, total: number) => void;
}

function parseTime(name: string, text: string): number {
  const ms = ISO.test(text)
    ? Date.parse(/T/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text}Z` : text)
    : NaN;
  if (Number.isNaN(ms))
    throw new UsageError(
      `--${name} ${JSON.stringify(text)} is not an ISO-8601 date or time (e.g. 2025-09-05 or 2025-09-05T12:00:00Z)`,
    );
  return ms;
}

/** Checks the range against what can be rebuilt; returns the hours it covers. */
export async function planBackfill(
  db: Db,
  config: Config,
  opts: BackfillOptions,
  now = Date.now(),
): Promise<string[]> {
  const from = parseTime('from', opts.from);
  const to = parseTime('to', opts.to);
  if (from >= to)
    throw new UsageError(
      `--from (${new Date(from).toISOString()}) must be before --to (${new Date(to).toISOString()})`,
    );
  if (to > now + 3_600_000)
    throw new UsageError(`--to (${new Date(to).toISOString()}) is in the future`);
  const oldest = now - config.retention.rawMs;
  if (from < oldest) {
    // Rebuilding an hour whose raw points retention removed would erase its rollups for good.
    throw new UsageError(
      `--from (${new Date(from).toISOString()}) is older than RAW_RETENTION allows (${new Date(oldest).toISOString()}): the raw points are gone, and a backfill would erase rollups it cannot rebuild`,
    );
  }
  const hours = hoursIn(from, to);
  if (hours.length > MAX_HOURS)
    throw new UsageError(`the range covers ${hours.length} hours; at most ${MAX_HOURS} per run`);
  if (opts.metric !== undefined) {
    const known = await db.oneOrNone<{ one: number }>(
      'SELECT 1 AS one FROM series WHERE metric_name = $1 LIMIT 1',
      [opts.metric],
    );
    if (!known)
      throw new UsageError(`--metric ${JSON.stringify(opts.metric)}: no such metric is stored`);
  }
  return hours;
}

/** Runs a backfill against an already migrated database and a Redis; resolves with the result. */
export async function runBackfill(
  deps: { db: Db; redisUrl: string; config: Config; localWorker?: boolean },
  opts: BackfillOptions,
): Promise<BackfillRangeResult> {
  const log = createLogger('warn', { component: 'backfill' });
  const hours = await planBackfill(deps.db, deps.config, opts);
  const connection = createRedis(deps.redisUrl, 'pulse-backfill', 'bullmq');
  const flows = new FlowProducer({ connection, prefix: deps.config.prefix });
  const queue = new Queue(QUEUE.backfill, { connection, prefix: deps.config.prefix });
  const worker =
    deps.localWorker === false
      ? undefined
      : startBackfillWorker({ connection, prefix: deps.config.prefix, db: deps.db, log });
  try {
    const common = { metric: opts.metric ?? null, dryRun: opts.dryRun ?? false };
    const attempts = { attempts: 3, backoff: { type: 'exponential' as const, delay: 1_000 } };
    const tree = await flows.add({
      name: 'backfill',
      queueName: QUEUE.backfill,
      data: {
        kind: 'range',
        from: new Date(parseTime('from', opts.from)).toISOString(),
        to: new Date(parseTime('to', opts.to)).toISOString(),
        ...common,
      },
      opts: {
        ...attempts,
        removeOnComplete: { age: 7 * 86_400 },
        removeOnFail: { age: 30 * 86_400 },
      },
      children: hours.map((hour) => ({
        name: 'backfill-hour',
        queueName: QUEUE.backfill,
        data: { kind: 'hour', hour, ...common },
        opts: {
          ...attempts,
          removeOnComplete: { age: 86_400 },
          removeOnFail: { age: 30 * 86_400 },
        },
      })),
    });
    const id = tree.job.id as string;
    for (;;) {
      const job = await Job.fromId(queue, id);
      if (!job) throw new Error(`backfill job ${id} disappeared`);
      const state = await job.getState();
      const counted = await job.getDependenciesCount({ processed: true, unprocessed: true });
      opts.onProgress?.(counted.processed ?? 0, hours.length);
      // Read again: the job read above may predate its completion (returnvalue still null).
      if (state === 'completed')
        return (await Job.fromId(queue, id))?.returnvalue as BackfillRangeResult;
      if (state === 'failed') throw new Error(`backfill failed: ${job.failedReason}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await worker?.close();
    await queue.close();
    await flows.close();
    await closeRedis(connection);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      metric: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || values.from === undefined || values.to === undefined) {
    process.stderr.write(
      'usage: npm run backfill -- --from ISO --to ISO [--metric NAME] [--dry-run]\n',
    );
    return values.help ? 0 : 2;
  }
  const { from, to, metric } = values;
  try {
    const r = await withServices('backfill', ({ db, redisUrl, config }) =>
      runBackfill(
        { db, redisUrl, config },
        {
          from,
          to,
          metric,
          dryRun: values['dry-run'],
          onProgress: progressLine('backfill', 'hours'),
        },
      ),
    );
    process.stdout.write(
      `${r.dryRun ? 'dry run: ' : ''}${r.hours} hours, ${r.points} points, ${r.minutes} minute rollups, ${r.changed} ${r.dryRun ? 'would change' : 'changed'}` +
        `${r.dryRun ? '' : `, ${r.rollup1hRows} hour rollups rebuilt`}\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`backfill: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

runIfMain(import.meta.url, 'backfill', main);
