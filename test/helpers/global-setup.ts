// Finds the PostgreSQL and Redis the tests use: DATABASE_URL / REDIS_URL when set (CI sets
// them), else the same embedded defaults `npm start` uses, under .data/test.
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensurePostgres, ensureRedis, type Service } from '../../src/infra/embedded.js';
import { createLogger } from '../../src/infra/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    redisUrl: string;
  }
}

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
  project.provide('pgAdminUrl', pg.url);
  project.provide('redisUrl', redis.url);
  return async () => {
    for (const s of started) await s.stop();
  };
}
