// Options of the read API benchmark.
import { fleetSize, FLEET_OPTIONS } from '../fleet.js';
import * as cli from '../options.js';

export interface Options {
  series: number;
  days: number;
  metrics: number;
  connections: number;
  durationS: number;
  warmupS: number;
  sqlRuns: number;
  missRuns: number;
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
  liveMinutes: number;
  scaleSeries: number;
  keepDatabase: boolean;
}

export const USAGE = `usage: node --import tsx scripts/bench-api.ts [options]
  --series N            series to store (default 1000), spread over --metrics metric names
  --days N              days of history, one point per series per minute (default 7)
  --metrics N           metric names (default 30, at most ${60})
  --connections N       autocannon connections of the load runs (default 50)
  --duration S          seconds of each load run (default 10)
  --warmup S            seconds of untimed load before each load run (default 2)
  --sql-runs N          timed runs of the plan's SQL on the raw points, after one untimed (default 5)
  --miss-runs N         timed cache misses of each answer (default 7, at least 5)
${cli.DATABASE_URL_USAGE}
  --redis-url URL       Redis for the cache (default $REDIS_URL or redis://127.0.0.1:6379)
  --live-minutes N      minutes of the live run: worker + api under ~1,000 points/s while a
                        dashboard polls every standard entry (default 5; 0 skips it)
  --scale-series N      also measure 1 day of N series against 1 day of --series (default
                        10000; 0 skips it)
  --keep-database       leave the benchmark database in place at the end (to look at it)
${cli.COMMON_USAGE}`;

/** The benchmark's whole-number options: default, least and greatest value. */
const WHOLE = {
  connections: [50, 1, 10_000],
  duration: [10, 1, 3_600],
  warmup: [2, 0, 600],
  'sql-runs': [5, 1, 1_000],
  'miss-runs': [7, 5, 1_000],
  'live-minutes': [5, 0, 600],
  'scale-series': [10_000, 0, 100_000],
} as const;
type WholeName = keyof typeof WHOLE;
const wholeSpecs = Object.fromEntries(Object.keys(WHOLE).map((name) => [name, { type: 'string' }]));

const SPECS = {
  ...FLEET_OPTIONS,
  ...(wholeSpecs as Record<WholeName, { type: 'string' }>),
  'keep-database': { type: 'boolean' },
} as const;

export function parseOptions(argv: string[]): Options {
  const values = cli.parseBenchArgs(argv, SPECS, USAGE);
  const whole = (name: WholeName) => {
    const [fallback, min, max] = WHOLE[name];
    return cli.wholeOption(values[name], fallback, name, min, max);
  };
  return {
    ...fleetSize(values, { metrics: 30, minDays: 1 }),
    connections: whole('connections'),
    durationS: whole('duration'),
    warmupS: whole('warmup'),
    sqlRuns: whole('sql-runs'),
    missRuns: whole('miss-runs'),
    liveMinutes: whole('live-minutes'),
    scaleSeries: whole('scale-series'),
    keepDatabase: values['keep-database'] === true,
    ...cli.commonOptions(values, 2 ** 31),
  };
}
