// Options of the rollup benchmark.
import * as cli from '../options.js';
import { SECOND } from '../../../src/infra/time.js';
import { UsageError } from '../../../src/infra/usage-error.js';

/** Accuracy data: one point per series every 10 s (the default SAMPLE_INTERVAL). */
export const ACCURACY_INTERVAL_MS = 10 * SECOND;
/** Hours of accuracy data: a 24 h range that does not start on an hour, plus margin. */
export const ACCURACY_HOURS = 26;

export const STAGES = ['flush', 'minute', 'hour', 'accuracy'] as const;
export type Stage = (typeof STAGES)[number];

export interface Options {
  series: number;
  points: number;
  smallRows: number;
  largeRows: number;
  reps: number;
  days: number;
  accuracySeries: number;
  sampleSeries: number;
  stages: Stage[];
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
}

export const USAGE = `usage: node --import tsx scripts/bench-rollup.ts [options]
  --series N            series in every stage but accuracy (default 1000)
  --points N            points the flush stage drains, one per series per second (default 1000000)
  --small-rows N        rows already stored in the small case of the new-minute stage (default 100000)
  --large-rows N        rows already stored in the large case (default 10000000)
  --reps N              timed new minutes per case, at least 5; the median counts (default 7)
  --days N              days of rollup_1m rows (× series × 1,440) the aggregate job rolls up
                        into rollup_1h (default 7)
  --accuracy-series N   series written for the accuracy stage, one point per 10 s over ${ACCURACY_HOURS} h
                        (default 100)
  --sample-series N     of those, series whose trend() is checked one by one (default 20)
  --stages LIST         comma-separated subset of ${STAGES.join(',')} (default all; results files are
                        only written when every stage ran)
${cli.DATABASE_URL_USAGE}
  --redis-url URL       Redis to buffer in (default $REDIS_URL or redis://127.0.0.1:6379)
${cli.COMMON_USAGE}`;

export function parseOptions(argv: string[]): Options {
  const values = cli.parseBenchArgs(
    argv,
    {
      series: { type: 'string' },
      points: { type: 'string' },
      'small-rows': { type: 'string' },
      'large-rows': { type: 'string' },
      reps: { type: 'string' },
      days: { type: 'string' },
      'accuracy-series': { type: 'string' },
      'sample-series': { type: 'string' },
      stages: { type: 'string' },
    },
    USAGE,
  );
  const stages = (values.stages ?? STAGES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of stages)
    if (!STAGES.includes(s as Stage))
      throw new UsageError(`--stages: unknown stage ${s} (expected ${STAGES.join(', ')})`);
  const opts: Options = {
    series: cli.wholeOption(values.series, 1_000, 'series', 10),
    points: cli.wholeOption(values.points, 1_000_000, 'points', 10_000),
    smallRows: cli.wholeOption(values['small-rows'], 100_000, 'small-rows', 0),
    largeRows: cli.wholeOption(values['large-rows'], 10_000_000, 'large-rows', 1),
    reps: cli.wholeOption(values.reps, 7, 'reps', 5),
    days: cli.wholeOption(values.days, 7, 'days', 1),
    accuracySeries: cli.wholeOption(values['accuracy-series'], 100, 'accuracy-series', 1),
    sampleSeries: cli.wholeOption(values['sample-series'], 20, 'sample-series', 1),
    stages: STAGES.filter((s) => stages.includes(s)),
    ...cli.commonOptions(values),
  };
  // Dataset.seriesIndex is a Uint16Array.
  if (opts.series > 65_535) throw new UsageError('--series: at most 65535');
  if (opts.accuracySeries > opts.series)
    throw new UsageError('--accuracy-series: at most --series');
  if (opts.sampleSeries > opts.accuracySeries)
    throw new UsageError('--sample-series: at most --accuracy-series');
  if (opts.largeRows <= opts.smallRows)
    throw new UsageError('--large-rows: must be more than --small-rows');
  return opts;
}
