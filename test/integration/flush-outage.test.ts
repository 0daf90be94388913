// PostgreSQL goes away while points arrive: ingest keeps answering 202, flush jobs fail and
// retry with backoff, and once PostgreSQL is back every point is stored exactly once.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { start, type Running } from '../../src/main.js';
import {
  countPoints,
  createTestContext,
  waitFor,
  withDatabase,
  type TestContext,
} from '../helpers/context.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let ctx: TestContext;
let proxy: TcpProxy;
let app: Running;
let queue: Queue;
let queueRedis: Redis;

beforeAll(async () => {
  ctx = await createTestContext('outage');
  const target = new URL(ctx.dbUrl);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const proxied = new URL(ctx.dbUrl);
  proxied.host = `127.0.0.1:${proxy.port}`;
  app = await start(
    ctx.config({
      DATABASE_URL: withDatabase(proxied.toString(), ctx.name),
      FLUSH_INTERVAL: '200ms',
      FLUSH_ATTEMPTS: '50',
    }),
    ctx.log,
  );
  queueRedis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue('flush', { connection: queueRedis, prefix: ctx.prefix });
});

afterAll(async () => {
  await app?.stop();
  await queue?.close();
  await queueRedis?.quit();
  await proxy?.close();
  await ctx?.cleanup();
});

it('keeps points buffered while PostgreSQL is unreachable and stores them once it is back', async () => {
  proxy.block();
  const t0 = Date.now() - 60_000;
  const points = Array.from({ length: 3_000 }, (_, i) => ({
    metric_name: 'outage_metric',
    value: i,
    timestamp: t0 + i,
  }));
  for (let i = 0; i < points.length; i += 1_000) {
    const res = await fetch(`http://127.0.0.1:${app.port}/api/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ points: points.slice(i, i + 1_000) }),
    });
    expect(res.status).toBe(202);
  }

  // Flush jobs fail on the dead connection and are retried with backoff, not dropped.
  const retried = await waitFor(
    async () => {
      const jobs = await queue.getJobs(['delayed', 'wait', 'active', 'failed']);
      return jobs.find((j) => j.attemptsMade >= 2);
    },
    45_000,
    'a flush job retried twice',
  );
  expect((retried.stacktrace ?? []).join('\n')).toMatch(
    /Connection terminated|ECONNRESET|connection/i,
  );
  expect(Number(await ctx.redis.get(ctx.keys.bufferDepth))).toBe(3_000);
  expect(await countPoints(ctx.db)).toBe(0);

  proxy.unblock();
  await waitFor(
    async () => (await countPoints(ctx.db)) === 3_000,
    45_000,
    'all 3,000 points stored',
  );
  await waitFor(
    async () => Number(await ctx.redis.get(ctx.keys.bufferDepth)) === 0,
    10_000,
    'an empty buffer',
  );
  const stored = await ctx.db.one<{ n: number; distinct_values: number; sum: number }>(
    'SELECT count(*)::int AS n, count(DISTINCT value)::int AS distinct_values, sum(value)::float8 AS sum FROM points',
  );
  expect(stored).toEqual({ n: 3_000, distinct_values: 3_000, sum: (2_999 * 3_000) / 2 });
});
