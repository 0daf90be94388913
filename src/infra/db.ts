// The PostgreSQL pool (pg-promise). bigint columns come back as JS numbers: series ids
// and counts stay far below 2^53, and numbers are what the rest of the code wants.
import type pg from 'pg';
import pgPromise from 'pg-promise';
import { isConnectionError } from './pg-errors.js';

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

/** A connection taken from the pool for one transaction (see copyTransaction). */
export type TxConnection = Awaited<ReturnType<Db['connect']>>;

/**
 * Runs `fn` in one transaction on a connection of its own, handing it the raw client too (for
 * COPY, which pg-promise's tasks do not stream): committed when `fn` resolves, rolled back when
 * it throws. A connection that broke is discarded instead of going back to the pool.
 */
export async function copyTransaction<T>(
  db: Db,
  fn: (t: TxConnection, client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  const t = await db.connect();
  let broken = false;
  try {
    await t.none('BEGIN');
    const out = await fn(t, t.client as unknown as pg.ClientBase);
    await t.none('COMMIT');
    return out;
  } catch (err) {
    broken = isConnectionError(err);
    if (!broken) await t.none('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await t.done(broken);
  }
}
