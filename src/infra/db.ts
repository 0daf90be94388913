// The PostgreSQL pool (pg-promise). bigint columns come back as JS numbers: series ids
// and counts stay far below 2^53, and numbers are what the rest of the code wants.
import pgPromise from 'pg-promise';

export const pgp = pgPromise({ capSQL: true });

// int8 (20) → number; numeric stays a string on purpose (it may not fit a double).
pgp.pg.types.setTypeParser(20, (v: string) => Number(v));

export type Db = ReturnType<typeof createDb>;

export function createDb(
  url: string,
  poolSize: number,
  applicationName: string,
  onIdleError: (err: Error) => void = () => undefined,
) {
  // `options` (server settings for the session) is a pg connection parameter the pg-promise
  // typings leave out.
  const db = pgp({
    connectionString: url,
    max: poolSize,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    // pulse's queries are many and short; JIT compilation cost ~0.7 s per rollup query in the
    // API benchmark and never paid back.
    options: '-c jit=off',
    // A dead PostgreSQL must not leave a flush hanging forever.
    query_timeout: 120_000,
  } as Parameters<typeof pgp>[0]);
  // An idle pooled connection that PostgreSQL closes (restart, failover, shutdown) is reported
  // on the pool; without a listener Node treats that as an unhandled 'error' and exits.
  db.$pool.on('error', onIdleError);
  return db;
}

/** Resolves true when PostgreSQL at `url` accepts a connection and answers a query. */
export async function postgresAnswers(db: Db): Promise<boolean> {
  try {
    await db.one('SELECT 1 AS ok');
    return true;
  } catch {
    return false;
  }
}
