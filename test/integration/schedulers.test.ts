// Schedulers follow the configuration: every configured sampler has one, and those whose
// target (or sampler) was removed from the configuration are removed at start-up.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQueues, type Queues } from '../../src/workers/queues.js';
import { ensureSchedulers } from '../../src/workers/schedulers.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let connection: Redis;
let queues: Queues;

beforeAll(async () => {
  ctx = await createTestContext('schedulers');
  connection = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
  queues = createQueues(connection, ctx.prefix, 3);
});
afterAll(async () => {
  await queues?.close();
  await connection?.quit();
  await ctx?.cleanup();
});

const ids = async () => (await queues.sample.getJobSchedulers(0, -1)).map((s) => s.key).sort();
const base = {
  flushIntervalMs: 5_000,
  sampleIntervalMs: 10_000,
  aggregateIntervalMs: 60_000,
  maintenanceIntervalMs: 3_600_000,
  regressionIntervalMs: 3_600_000,
};

it('upserts one scheduler per sampler and target, and removes the ones no longer configured', async () => {
  const removedFirst = await ensureSchedulers(queues, {
    ...base,
    samplers: ['process', 'host', 'postgres', 'redis', 'queues'],
    scrapeTargets: ['http://a:9100/metrics', 'http://b:9100/metrics'],
  });
  expect(removedFirst).toEqual([]);
  expect(await ids()).toEqual([
    'sample:host',
    'sample:postgres',
    'sample:queues',
    'sample:redis',
    'sample:scrape:http://a:9100/metrics',
    'sample:scrape:http://b:9100/metrics',
  ]);
  // Upserting again (a second worker starting) changes nothing.
  await ensureSchedulers(queues, {
    ...base,
    samplers: ['host', 'postgres', 'redis', 'queues'],
    scrapeTargets: ['http://a:9100/metrics', 'http://b:9100/metrics'],
  });
  expect(await ids()).toHaveLength(6);

  const removed = await ensureSchedulers(queues, {
    ...base,
    samplers: ['host', 'redis'],
    scrapeTargets: ['http://a:9100/metrics'],
  });
  expect(removed.sort()).toEqual([
    'sample:postgres',
    'sample:queues',
    'sample:scrape:http://b:9100/metrics',
  ]);
  expect(await ids()).toEqual([
    'sample:host',
    'sample:redis',
    'sample:scrape:http://a:9100/metrics',
  ]);
  const flush = await queues.flush.getJobSchedulers(0, -1);
  expect(flush.map((s) => [s.key, s.every])).toEqual([['flush-every', 5_000]]);
  const aggregate = await queues.aggregate.getJobSchedulers(0, -1);
  expect(aggregate.map((s) => [s.key, s.every])).toEqual([['aggregate-every', 60_000]]);
  const maintenance = await queues.maintenance.getJobSchedulers(0, -1);
  expect(maintenance.map((s) => [s.key, s.every])).toEqual([['maintenance-every', 3_600_000]]);
  const regression = await queues.regression.getJobSchedulers(0, -1);
  expect(regression.map((s) => [s.key, s.every])).toEqual([['regression-every', 3_600_000]]);
  // The jobs a scheduler makes carry their queue's job options: retried flushes (3 attempts, as
  // createQueues was given), samples taken once, upkeep retried 3 times.
  const template = async (q: { getJobScheduler(id: string): Promise<unknown> }, id: string) =>
    ((await q.getJobScheduler(id)) as { template?: { opts?: { attempts?: number } } }).template;
  expect((await template(queues.flush, 'flush-every'))?.opts?.attempts).toBe(3);
  expect((await template(queues.sample, 'sample:host'))?.opts?.attempts).toBe(1);
  expect((await template(queues.aggregate, 'aggregate-every'))?.opts?.attempts).toBe(3);
  expect((await template(queues.regression, 'regression-every'))?.opts?.attempts).toBe(3);
});
