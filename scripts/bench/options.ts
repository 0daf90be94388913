// The options every benchmark takes and their parsing.
import { parseArgs } from 'node:util';
import { UsageError } from '../../src/infra/usage-error.js';

/** The usage lines of the options every benchmark takes (see parseBenchArgs). */
export const DATABASE_URL_USAGE = `  --database-url URL    PostgreSQL server to create the bench database on
                        (default $DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)`;
export const COMMON_USAGE = `  --seed N              seed of the synthetic data (default 1)
  --fail-on-goal        exit 1 when a goal is missed (not only on errors)
  --help`;

const COMMON_OPTIONS = {
  'database-url': { type: 'string' },
  'redis-url': { type: 'string' },
  seed: { type: 'string' },
  'fail-on-goal': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export interface CommonOptions {
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
}

/**
 * Parses `argv` with the benchmark's own `options` and the common ones (--database-url,
 * --redis-url, --seed, --fail-on-goal, --help); --help prints `usage` and exits 0.
 */
type OptionSpecs = Record<string, { type: 'string' | 'boolean' }>;
type CommonValues = {
  'database-url'?: string;
  'redis-url'?: string;
  seed?: string;
  'fail-on-goal'?: boolean;
};
type ValuesOf<T extends OptionSpecs> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string;
} & CommonValues;

export function parseBenchArgs<T extends OptionSpecs>(
  argv: string[],
  options: T,
  usage: string,
): ValuesOf<T> {
  const values = parseArgs({
    args: argv,
    options: { ...options, ...COMMON_OPTIONS },
    strict: true,
    allowPositionals: false,
  }).values as ValuesOf<T> & { help?: boolean };
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

/** The common options' values; the URLs default to $DATABASE_URL and $REDIS_URL, then to localhost. */
export function commonOptions(values: CommonValues, seedMax?: number): CommonOptions {
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);
  return {
    databaseUrl:
      nonEmpty(values['database-url']) ??
      nonEmpty(process.env.DATABASE_URL) ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl:
      nonEmpty(values['redis-url']) ?? nonEmpty(process.env.REDIS_URL) ?? 'redis://127.0.0.1:6379',
    seed: wholeOption(values.seed, 1, 'seed', 0, seedMax),
    failOnGoal: values['fail-on-goal'] ?? false,
  };
}

/** `text` as a whole number (underscores allowed) of at least `min` (and at most `max`). */
export function wholeOption(
  text: string | undefined,
  fallback: number,
  name: string,
  min: number,
  max?: number,
): number {
  if (text === undefined) return fallback;
  const n = /^\d[\d_]*$/.test(text.trim()) ? Number(text.trim().replace(/_/g, '')) : NaN;
  if (max === undefined) {
    if (!Number.isSafeInteger(n) || n < min)
      throw new UsageError(`--${name}: expected a whole number ≥ ${min}`);
  } else if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}
