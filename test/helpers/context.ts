// Per-test-file isolation: a fresh PostgreSQL database (migrated) and a random Redis key
// prefix, both removed again by cleanup(). Nothing depends on what an earlier run left. Both
// names carry the run's token, and the registry records the file, for the leak guard
// (global-setup.ts) to judge and name what this run leaves behind.
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createDb, type Db } from '../../src/infra/db.js';
import { keysFor, type Keys } from '../../src/infra/keys.js';
import { createLogger, type Logger } from '../../src/infra/logger.js';
import { migrate } from '../../src/metrics/schema.js';
import { PointBuffer } from '../../src/metrics/buffer.js';
import { ensurePartitions } from '../../src/metrics/partitions.js';
import { register, testDatabaseName, testKeyPrefix } from './leaks.js';
import { ROOT } from './processes.js';

export interface TestContext {
  name: string;
  dbUrl: string;
  redisUrl: string;
  prefix: string;
  db: Db;
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** A Config pointing at this file's database and prefix, with `env` applied on top. */
  config(env?: Record<string, string>): Config;
  /** The env a child process needs to run against this file's database and prefix. */
  env(extra?: Record<string, string>): Record<string, string>;
  buffer(maxPoints?: number): PointBuffer;
  cleanup(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestContext(label: string): Promise<TestContext> {
  const adminUrl = inject('pgAdminUrl');
  const redisUrl = inject('redisUrl');
  const token = inject('runToken');
  const id = randomBytes(4).toString('hex');
  const name = testDatabaseName(label, token, id);
  const prefix = testKeyPrefix(label, token, id);
  register(token, {
    database: name,
    prefix,
    file: path.relative(ROOT, expect.getState().testPath ?? '?'),
  });
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const dbUrl = withDatabase(adminUrl, name);
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', { test: label });
  const db = createDb(dbUrl, 5, `pulse-test-${label}`);
  await migrate(db, log);
  await ensurePartitions(db);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const keys = keysFor(prefix);
  const baseEnv = (): Record<string, string> => ({
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    PULSE_PREFIX: prefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Samplers would add points behind a test's back; the sampler tests turn them on.
    SAMPLERS: 'none',
  });
  return {
    name,
    dbUrl,
    redisUrl,
    prefix,
    db,
    redis,
    keys,
    log,
    config: (env = {}) => loadConfig({ ...baseEnv(), PORT: '0', HOST: '127.0.0.1', ...env }),
    env: (extra = {}) => ({ ...baseEnv(), ...extra }),
    buffer: (maxPoints = 2_000_000) => new PointBuffer(redis, keys, maxPoints),
    async cleanup() {
      await db.$pool.end();
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (found.length > 0) await redis.unlink(...found);
      } while (cursor !== '0');
      await redis.quit();
      await admin(adminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`),
      );
    },
  };
}

/** Polls `check` until it returns a value that is not undefined/false, or fails after `ms`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  ms = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function countPoints(db: Db): Promise<number> {
  return (await db.one<{ n: number }>('SELECT count(*)::int AS n FROM points')).n;
}
