// npm run dead-letters -- list|replay|drop [--id ID ...] [--all] [--limit N]
//
// Buffer entries the flush could not store (undecodable, or refused by PostgreSQL) are kept
// aside in a Redis stream, at most DEAD_LETTER_MAX. This lists them with their reason, puts
// them back into the buffer (after the cause is fixed: the flush takes them again), or deletes
// them. Talks to the Redis a running pulse uses; never starts one.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { runningRedis } from '../src/infra/embedded.js';
import { keysFor } from '../src/infra/keys.js';
import { closeRedis, createRedis } from '../src/infra/redis.js';
import { decodeEntry, PointBuffer, type DeadLetter } from '../src/metrics/buffer.js';
import { UsageError } from '../src/infra/usage-error.js';

const USAGE = `usage: npm run dead-letters -- <command> [options]
  list                 the dead letters, oldest first: id, when, points, metrics, reason
  replay               put them back into the buffer (all, or --id): the flush takes them again
  drop                 delete them for good (--id, or --all)
options:
  --id ID              a dead letter's id (from list); repeat for several
  --all                with drop: every dead letter
  --limit N            at most N (default 1000)
  --help`;

export interface DeadLetterOptions {
  command: 'list' | 'replay' | 'drop';
  ids: string[];
  all: boolean;
  limit: number;
}

export function parseDeadLetterArgs(argv: string[]): DeadLetterOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        id: { type: 'string', multiple: true },
        all: { type: 'boolean' },
        limit: { type: 'string' },
        help: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [command, ...rest] = positionals;
  if (command !== 'list' && command !== 'replay' && command !== 'drop')
    throw new UsageError(
      command === undefined
        ? 'a command is required: list, replay or drop'
        : `unknown command ${JSON.stringify(command)}: expected list, replay or drop`,
    );
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  const limit = values.limit === undefined ? 1_000 : Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new UsageError(`--limit ${JSON.stringify(values.limit)}: expected a whole number ≥ 1`);
  const ids = values.id ?? [];
  for (const id of ids)
    if (!/^\d+-\d+$/.test(id))
      throw new UsageError(
        `--id ${JSON.stringify(id)}: expected an id from list (like 1732950000000-0)`,
      );
  if (command === 'drop' && ids.length === 0 && !values.all)
    throw new UsageError('drop deletes for good: name them with --id, or say --all');
  if (values.all && ids.length > 0) throw new UsageError('--all and --id exclude each other');
  return { command, ids, all: values.all ?? false, limit };
}

/** The metric names a dead letter holds, or why they cannot be read. */
function metricsOf(d: DeadLetter): string {
  try {
    const decoded = decodeEntry(d);
    return [...new Set(decoded.series.map((s) => s.metricName))].join(',');
  } catch (err) {
    return `(${(err as Error).message})`;
  }
}

/** Runs one command against `buffer`, writing what it did to `out`; returns the exit code. */
export async function runDeadLetters(
  buffer: PointBuffer,
  opts: DeadLetterOptions,
  out: (line: string) => void,
): Promise<number> {
  const all = await buffer.deadLetters(opts.ids.length > 0 ? 1_000_000 : opts.limit);
  const chosen = opts.ids.length > 0 ? all.filter((d) => opts.ids.includes(d.deadId)) : all;
  const missing = opts.ids.filter((id) => !chosen.some((d) => d.deadId === id));
  if (missing.length > 0) {
    out(`no dead letter ${missing.join(', ')}`);
    return 1;
  }
  switch (opts.command) {
    case 'list': {
      const total = await buffer.deadLetterCount();
      out(
        `${total} dead letter${total === 1 ? '' : 's'}${total > chosen.length ? ` (first ${chosen.length})` : ''}`,
      );
      for (const d of chosen)
        out(`${d.deadId}  ${d.at.toISOString()}  ${d.count} points  ${metricsOf(d)}  ${d.reason}`);
      return 0;
    }
    case 'replay': {
      const points = await buffer.replayDeadLetters(chosen);
      out(
        `put ${chosen.length} dead letter${chosen.length === 1 ? '' : 's'} (${points} points) back into the buffer`,
      );
      return 0;
    }
    case 'drop': {
      const n = await buffer.dropDeadLetters(chosen);
      out(`deleted ${n} dead letter${n === 1 ? '' : 's'}`);
      return 0;
    }
  }
}

async function main(): Promise<number> {
  let opts: DeadLetterOptions | 'help';
  try {
    opts = parseDeadLetterArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`dead-letters: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig();
  const url = await runningRedis(config);
  if (url === undefined) {
    process.stderr.write(
      'dead-letters: no Redis answers (REDIS_URL, or the local or embedded one pulse uses): is pulse running?\n',
    );
    return 1;
  }
  const redis = createRedis(url, 'pulse-dead-letters', 'command');
  try {
    const buffer = new PointBuffer(
      redis,
      keysFor(config.prefix),
      config.buffer.maxPoints,
      config.buffer.maxDeadLetters,
    );
    return await runDeadLetters(buffer, opts, (line) => process.stdout.write(`${line}\n`));
  } finally {
    await closeRedis(redis);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`dead-letters: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
