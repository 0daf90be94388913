// Liveness and readiness. /healthz says the process runs; /readyz says it can do its work:
// Redis and PostgreSQL answer and the schema is migrated. Both stay outside auth.
import type { RouteTable } from './routes.js';
import type { Redis } from 'ioredis';
import type { Db } from '../infra/db.js';
import { migrationsDone } from '../infra/migrate.js';

/** Adds GET /healthz and GET /readyz to `router`. */
export function healthRoutes(router: RouteTable, deps: { redis: Redis; db: Db }): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks = { redis: 'ok', postgres: 'ok', migrations: 'ok' };
    const [redis, postgres, migrations] = await Promise.allSettled([
      withTimeout(deps.redis.ping(), 2_000),
      withTimeout(deps.db.one('SELECT 1 AS ok'), 2_000),
      withTimeout(migrationsDone(deps.db), 2_000),
    ]);
    if (redis.status === 'rejected') checks.redis = reason(redis.reason);
    if (postgres.status === 'rejected') checks.postgres = reason(postgres.reason);
    if (migrations.status === 'rejected') checks.migrations = reason(migrations.reason);
    else if (!migrations.value) checks.migrations = 'pending';
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
