// Each built-in sampler against the real thing, its values checked against what PostgreSQL,
// Redis, BullMQ and the process itself report at the same moment.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sample, type SampleDeps } from '../../src/jobs/sample.js';
import { sampleHost } from '../../src/samplers/host.js';
import { samplePostgres } from '../../src/samplers/postgres.js';
import { ProcessSampler } from '../../src/samplers/process.js';
import { sampleQueues } from '../../src/samplers/queues.js';
import { sampleRedis } from '../../src/samplers/redis.js';
import { toPoints } from '../../src/samplers/to-points.js';
import type { Sample } from '../../src/samplers/types.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let queueRedis: Redis;

beforeAll(async () => {
  ctx = await createTestContext('samplers');
  queueRedis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await queueRedis?.quit();
  await ctx?.cleanup();
});

const value = (samples: Sample[], name: string, tags?: Record<string, string>) =>
  samples.find(
    (s) => s.name === name && Object.entries(tags ?? {}).every(([k, v]) => s.tags?.[k] === v),
  )?.value;

describe('process sampler', () => {
  it('reports RSS within 10 % of process.memoryUsage().rss and sane CPU, GC and lag figures', async () => {
    const sampler = new ProcessSampler();
    sampler.start();
    try {
      // Some garbage and some busy time to measure.
      let junk: number[][] = [];
      const until = Date.now() + 300;
      while (Date.now() < until) junk.push(new Array<number>(10_000).fill(1));
      junk = [];
      await new Promise((r) => setTimeout(r, 50));
      const samples = sampler.collect();
      const rss = process.memoryUsage().rss;
      expect(Math.abs((value(samples, 'process_rss_bytes') ?? 0) - rss) / rss).toBeLessThan(0.1);
      expect(value(samples, 'process_cpu_usage_percentage')).toBeGreaterThan(20);
      expect(value(samples, 'process_cpu_usage_percentage')).toBeLessThan(200);
      expect(value(samples, 'process_gc_count')).toBeGreaterThan(0);
      expect(value(samples, 'gc_frequency_per_minute')).toBeGreaterThan(0);
      expect(value(samples, 'process_heap_used_percentage')).toBeGreaterThan(0);
      expect(value(samples, 'process_event_loop_lag_p99_seconds')).toBeGreaterThanOrEqual(
        value(samples, 'process_event_loop_lag_p50_seconds') ?? 0,
      );
      expect(junk).toHaveLength(0);
    } finally {
      sampler.stop();
    }
  });
});

describe('host sampler', () => {
  it('reports memory, CPU, load and disk within their physical bounds', async () => {
    const os = await import('node:os');
    const { readFile } = await import('node:fs/promises');
    // What the kernel reports independently: total minus available, read before and after the
    // sample (other processes allocate meanwhile), within 5 % of that range.
    const kernelUsed = async () => {
      const meminfo = await readFile('/proc/meminfo', 'utf8');
      const kb = (field: string) =>
        Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(meminfo)?.[1]);
      return (kb('MemTotal') - kb('MemAvailable')) * 1_024;
    };
    const loadBefore = os.loadavg()[0]!;
    const usedBefore = await kernelUsed();
    const samples = await sampleHost({ dataDir: '.', cpuWindowMs: 200 });
    const usedAfter = await kernelUsed();
    const loadAfter = os.loadavg()[0]!;
    expect(value(samples, 'memory_usage_bytes')).toBeGreaterThan(0);
    expect(value(samples, 'memory_usage_bytes')).toBeLessThanOrEqual(os.totalmem());
    expect(value(samples, 'memory_usage_percentage')).toBeCloseTo(
      (100 * (value(samples, 'memory_usage_bytes') ?? 0)) / os.totalmem(),
      9,
    );
    const memory = value(samples, 'memory_usage_bytes') ?? 0;
    expect(memory).toBeGreaterThanOrEqual(Math.min(usedBefore, usedAfter) * 0.95);
    expect(memory).toBeLessThanOrEqual(Math.max(usedBefore, usedAfter) * 1.05);
    expect(value(samples, 'cpu_usage_percentage')).toBeGreaterThanOrEqual(0);
    expect(value(samples, 'cpu_usage_percentage')).toBeLessThanOrEqual(100);
    expect(value(samples, 'host_load_average_1m')).toBeGreaterThanOrEqual(
      Math.min(loadBefore, loadAfter),
    );
    expect(value(samples, 'host_load_average_1m')).toBeLessThanOrEqual(
      Math.max(loadBefore, loadAfter),
    );
    expect(value(samples, 'host_disk_free_bytes')).toBeGreaterThan(0);
  });
});

describe('postgres sampler', () => {
  it('matches pg_stat_activity and pg_database_size, and gives transaction rates from the second tick on', async () => {
    const key = ctx.keys.samplerRates('postgres-test');
    const first = await samplePostgres({
      db: ctx.db,
      redis: ctx.redis,
      rateKey: key,
      now: Date.now(),
    });
    expect(value(first, 'database_transactions_committed_per_second')).toBeUndefined();
    const truth = await ctx.db.one<{ total: number; max: number; size: number }>(
      `SELECT count(*)::int AS total, current_setting('max_connections')::int AS max, pg_database_size(current_database())::float8 AS size
       FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`,
    );
    // The pool may open or close a connection between the two queries.
    expect(
      Math.abs((value(first, 'database_connections_total') ?? -1) - truth.total),
    ).toBeLessThanOrEqual(1);
    expect(value(first, 'database_connections_usage_percentage')).toBeCloseTo(
      (100 * (value(first, 'database_connections_total') ?? 0)) / truth.max,
      9,
    );
    expect(Math.abs((value(first, 'database_size_bytes') ?? 0) - truth.size)).toBeLessThan(
      1_048_576,
    );
    // Backends hand their counters to the statistics system lazily; make this one do it now.
    await ctx.db.task(async (t) => {
      for (let i = 0; i < 20; i++) await t.one('SELECT 1 AS one');
      await t.any('SELECT pg_stat_force_next_flush()');
      await t.one('SELECT 1 AS one');
    });
    await new Promise((r) => setTimeout(r, 100));
    const second = await samplePostgres({
      db: ctx.db,
      redis: ctx.redis,
      rateKey: key,
      now: Date.now(),
    });
    expect(value(second, 'database_transactions_committed_per_second')).toBeGreaterThan(0);
    expect(value(second, 'database_transactions_rolled_back_per_second')).toBeGreaterThanOrEqual(0);
    expect(value(second, 'database_cache_hit_ratio')).toBeGreaterThan(0);
    expect(value(second, 'database_cache_hit_ratio')).toBeLessThanOrEqual(1);
  });
});

describe('redis sampler', () => {
  it('reports INFO figures and the eviction policy', async () => {
    const { samples, policy } = await sampleRedis({ redis: ctx.redis });
    const configured = (await ctx.redis.config('GET', 'maxmemory-policy'))[1];
    expect(policy).toBe(configured);
    expect(value(samples, 'redis_maxmemory_policy_noeviction')).toBe(
      configured === 'noeviction' ? 1 : 0,
    );
    expect(value(samples, 'redis_used_memory_bytes')).toBeGreaterThan(0);
    expect(value(samples, 'redis_connected_clients')).toBeGreaterThanOrEqual(1);
  });
});

describe('queues sampler', () => {
  it('counts waiting, delayed and failed jobs and the age of the oldest waiting one', async () => {
    const queue = new Queue('sampled', { connection: queueRedis, prefix: ctx.prefix });
    try {
      const added = Date.now();
      await queue.add('a', {}, { timestamp: added - 5_000 });
      await queue.add('b', {});
      await queue.add('c', {});
      await queue.add('later', {}, { delay: 60_000 });
      const samples = await sampleQueues({
        queues: [queue],
        redis: ctx.redis,
        rateKeyPrefix: ctx.keys.samplerRates('q'),
        now: Date.now(),
      });
      const tags = { queue: 'sampled' };
      expect(value(samples, 'queue_waiting_jobs', tags)).toBe(3);
      expect(value(samples, 'queue_delayed_jobs', tags)).toBe(1);
      expect(value(samples, 'queue_active_jobs', tags)).toBe(0);
      expect(value(samples, 'queue_failed_jobs', tags)).toBe(0);
      expect(value(samples, 'queue_oldest_waiting_age_seconds', tags)).toBeGreaterThanOrEqual(5);
      expect(value(samples, 'queue_oldest_waiting_age_seconds', tags)).toBeLessThan(60);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('queues sampler rates', () => {
  it('turns completed and failed job counts into per-minute rates from the second tick on', async () => {
    const { MetricsTime, Worker } = await import('bullmq');
    const queue = new Queue('rated', { connection: queueRedis, prefix: ctx.prefix });
    const workerRedis = queueRedis.duplicate();
    const worker = new Worker(
      'rated',
      (job) => (job.name === 'bad' ? Promise.reject(new Error('no')) : Promise.resolve()),
      {
        connection: workerRedis,
        prefix: ctx.prefix,
        metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
      },
    );
    const rateKeyPrefix = ctx.keys.samplerRates('rated');
    try {
      const first = await sampleQueues({
        queues: [queue],
        redis: ctx.redis,
        rateKeyPrefix,
        now: Date.now(),
      });
      expect(value(first, 'queue_completed_per_minute')).toBeUndefined();
      const t0 = Date.now();
      await queue.addBulk([
        ...Array.from({ length: 6 }, () => ({ name: 'good', data: {} })),
        { name: 'bad', data: {} },
        { name: 'bad', data: {} },
      ]);
      await new Promise<void>((resolve) => {
        let done = 0;
        const count = () => (++done === 8 ? resolve() : undefined);
        worker.on('completed', count);
        worker.on('failed', count);
      });
      // Pretend the second tick comes 30 s after the first: 6 completions → 12 per minute.
      const second = await sampleQueues({
        queues: [queue],
        redis: ctx.redis,
        rateKeyPrefix,
        now: t0 + 30_000,
      });
      expect(value(second, 'queue_completed_per_minute')).toBeCloseTo(6 * 2, 0);
      expect(value(second, 'queue_failed_per_minute')).toBeCloseTo(2 * 2, 0);
      expect(value(second, 'queue_failed_jobs')).toBe(2);
    } finally {
      await worker.close();
      await workerRedis.quit();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('toPoints', () => {
  it("adds the plan's tags, keeps a sample's own tags over them, and drops samples that break ingest rules", () => {
    const now = Date.now();
    const { points, dropped } = toPoints(
      [
        { name: 'ok_metric', value: 1, tags: { environment: 'override', queue: 'q' } },
        { name: 'nan_metric', value: NaN },
        { name: 'bad name', value: 1 },
        { name: 'long_label', value: 1, tags: { l: 'x'.repeat(201) } },
      ],
      { hostname: 'h', instance_id: 'i', environment: 'prod' },
      now,
      86_400_000,
    );
    expect(points).toEqual([
      {
        metricName: 'ok_metric',
        value: 1,
        ts: now,
        tags: { hostname: 'h', instance_id: 'i', environment: 'override', queue: 'q' },
        sourceAgentId: null,
        instanceId: null,
      },
    ]);
    expect(dropped.map((d) => d.name)).toEqual(['nan_metric', 'bad name', 'long_label']);
  });
});

describe('critical thresholds', () => {
  it('asks for a flush on every tick over the limit and warns once per episode', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }),
    );
    let flushes = 0;
    const deps: SampleDeps = {
      db: ctx.db,
      redis: ctx.redis,
      buffer: ctx.buffer(),
      keys: ctx.keys,
      queues: [],
      log,
      baseTags: { hostname: 'h', instance_id: 'i', environment: 'test' },
      dataDir: '.',
      scrapeTimeoutMs: 1_000,
      scrapeSampleLimit: 50_000,
      scrapeTargets: [],
      acceptMs: 86_400_000,
      // 0 % cannot be undercut: every tick is over the limit.
      critical: { memoryPercent: 0, cpuPercent: 100 },
      requestFlush: () => Promise.resolve(void flushes++),
    };
    await ctx.buffer().ensureGroup();
    const r1 = await sample(deps, { sampler: 'host' });
    await sample(deps, { sampler: 'host' });
    expect(r1.points).toBe(8);
    expect(flushes).toBe(2);
    const warnings = lines.filter((l) => l.includes('critical threshold exceeded'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ metric: 'memory_usage_percentage', limit: 0 });
    // Back under the limit: the episode ends, and the next excess warns again.
    await sample(
      { ...deps, critical: { memoryPercent: 100, cpuPercent: 100 } },
      { sampler: 'host' },
    );
    expect(lines.some((l) => l.includes('back below the critical threshold'))).toBe(true);
    await sample(deps, { sampler: 'host' });
    expect(lines.filter((l) => l.includes('critical threshold exceeded'))).toHaveLength(2);
  });
});
