// Regression detection over the demo data, as the regression job runs it.
import type { Config } from '../config.js';
import { DashboardCache } from '../cache/dashboard-cache.js';
import type { Db } from '../infra/db.js';
import { runningRedis } from '../infra/embedded.js';
import { keysFor } from '../infra/keys.js';
import type { Logger } from '../infra/logger.js';
import { closeRedis, createRedis } from '../infra/redis.js';
import { regression, type RegressionRun } from '../jobs/regression.js';

/**
 * Regression detection as of `at`, as the regression job runs it. The dashboard's cached report
 * is replaced when a Redis answers (the demo never starts one of its own for this).
 */
export async function demoRegression(
  db: Db,
  config: Config,
  at: number,
  log: Logger,
): Promise<RegressionRun> {
  const url = await runningRedis(config);
  if (url === undefined)
    process.stderr.write(
      'demo: note: no Redis answers, so the dashboard shows this report after its next warm pass\n',
    );
  const redis = url === undefined ? undefined : createRedis(url, 'pulse-demo', 'command');
  try {
    return await regression(
      {
        db,
        log,
        config: { ...config.regression, minSegmentMinutes: 60 },
        now: () => at,
        cache: redis
          ? {
              cache: new DashboardCache(redis, keysFor(config.prefix), log),
              ttlMs: config.cache.ttlMs,
            }
          : undefined,
      },
      { reason: 'manual' },
    );
  } finally {
    if (redis) await closeRedis(redis);
  }
}
