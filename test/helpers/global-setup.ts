// Finds the PostgreSQL and Redis the tests use: DATABASE_URL / REDIS_URL when set (CI sets
// them), else the same embedded defaults `npm start` uses, under .data/test.
//
// The leak guard's run-wide half: every database and key prefix a test context creates carries
// this run's token (see leaks.ts), and every process a test starts carries it in its
// environment. The teardown fails the run (exit code 1) when any of them is still there, names
// each with the file that created it, and removes them. Names of other runs (earlier killed
// ones, concurrent ones on the same servers) have other tokens and are not judged; those of
// runs that started over a day ago are removed quietly.
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensurePostgres, ensureRedis, type Service } from '../../src/infra/embedded.js';
import { createLogger } from '../../src/infra/logger.js';
import {
  describeLeftovers,
  findLeftovers,
  newRunToken,
  removeLeftovers,
  removeRegistry,
  removeStale,
} from './leaks.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    redisUrl: string;
    runToken: string;
  }
}

const DAY = 86_400_000;

let started: Service[] = [];

export default async function setup(project: TestProject) {
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', { component: 'test-setup' });
  const dataDir = path.resolve('.data/test');
  const pg = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, stop: () => Promise.resolve() }
    : await ensurePostgres({ dataDir, port: 54339, log, database: 'postgres' });
  const redis = process.env.REDIS_URL
    ? { url: process.env.REDIS_URL, stop: () => Promise.resolve() }
    : await ensureRedis({ dataDir, port: 63799, log });
  started = [pg, redis];
  const servers = { pgAdminUrl: pg.url, redisUrl: redis.url };
  const token = newRunToken();
  project.provide('pgAdminUrl', pg.url);
  project.provide('redisUrl', redis.url);
  project.provide('runToken', token);
  const stale = await removeStale(servers, Date.now(), DAY);
  if (stale > 0)
    log.warn({ stale }, 'removed databases and key prefixes of test runs over a day old');
  return async () => {
    try {
      const leftovers = await findLeftovers(servers, token);
      if (leftovers.length > 0) {
        await removeLeftovers(servers, leftovers);
        // A throw from a globalSetup teardown is only logged by vitest; the exit code fails the run.
        process.exitCode = 1;
        throw new Error(`${describeLeftovers(leftovers)}\n(removed now)`);
      }
    } finally {
      await removeRegistry(token);
      for (const s of started) await s.stop();
    }
  };
}
