// Options of the import benchmark, and what a run with other sizes says about itself.
import * as cli from '../options.js';
import { int } from '../report.js';

export const DEFAULT_ROWS = 5_000_000;
/** Seconds between two points of one series (the default SAMPLE_INTERVAL). */
export const DEFAULT_INTERVAL_S = 10;

export interface Options {
  rows: number;
  intervalS: number;
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
}

export const USAGE = `usage: node --import tsx scripts/bench-import.ts [options]
  --rows N              rows in each file, NDJSON and CSV (default ${int(DEFAULT_ROWS)})
  --interval S          seconds between two points of a series (default ${DEFAULT_INTERVAL_S})
${cli.DATABASE_URL_USAGE}
  --redis-url URL       Redis for the series limits (default $REDIS_URL or redis://127.0.0.1:6379)
${cli.COMMON_USAGE}`;

export function parseOptions(argv: string[]): Options {
  const values = cli.parseBenchArgs(
    argv,
    { rows: { type: 'string' }, interval: { type: 'string' } },
    USAGE,
  );
  return {
    rows: cli.wholeOption(values.rows, DEFAULT_ROWS, 'rows', 10_000),
    intervalS: cli.wholeOption(values.interval, DEFAULT_INTERVAL_S, 'interval', 1, 3_600),
    ...cli.commonOptions(values),
  };
}

/** What differs from the default size, one note per option. */
export function reducedSize(opts: Options): string[] {
  const reduced: string[] = [];
  if (opts.rows !== DEFAULT_ROWS)
    reduced.push(`${int(opts.rows)} rows, not ${int(DEFAULT_ROWS)} (--rows)`);
  if (opts.intervalS !== DEFAULT_INTERVAL_S)
    reduced.push(
      `a point every ${opts.intervalS} s per series, not ${DEFAULT_INTERVAL_S} s (--interval)`,
    );
  return reduced;
}

export const reducedNoteOf = (reduced: string[]) => `Not the default size: ${reduced.join('; ')}.`;
