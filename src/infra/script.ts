// What the maintenance commands (backfill, regression) share: the configuration, a quiet
// logger, PostgreSQL migrated and Redis (the configured ones, or the embedded ones as npm start
// uses), all closed again when the command ends; and the exit code a command's main resolves
// with, or 1 with the stack when it throws.
import { loadConfig, type Config } from '../config.js';
import { migrate } from '../metrics/schema.js';
import { createDb, type Db } from './db.js';
import { postgresFor, redisFor } from './embedded.js';
import { createLogger } from './logger.js';

export interface ScriptServices {
  config: Config;
  db: Db;
  redisUrl: string;
}

/** Runs `fn` with the services of command `name` (its logger's component and connection name). */
export async function withServices<T>(
  name: string,
  fn: (s: ScriptServices) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const log = createLogger('warn', { component: name });
  const pg = await postgresFor(config, log);
  const redis = await redisFor(config, log);
  const db = createDb(pg.url, 4, `pulse-${name}`);
  try {
    await migrate(db, log);
    return await fn({ config, db, redisUrl: redis.url });
  } finally {
    await db.$pool.end();
    await redis.stop();
    await pg.stop();
  }
}

/** Runs a command's main when `moduleUrl` is the entry point, exiting with its code. */
export function runIfMain(moduleUrl: string, name: string, main: () => Promise<number>): void {
  if (moduleUrl !== `file://${process.argv[1]}`) return;
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
