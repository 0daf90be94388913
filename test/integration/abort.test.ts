// Stopping jobs part-way on real PostgreSQL and Redis: every handler given an aborted signal
// throws an AbortError and changes nothing; a running statement is cancelled at once (its
// transaction rolled back); an aborted BullMQ job goes back to wait without using an attempt
// (a sample fails instead), and a forced exit's release does the same for a job that ignores
// its signal.
import { Job, Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardCache } from '../../src/cache/dashboard-cache.js';
import { AbortError, cancellable, cancellableTx } from '../../src/infra/abort.js';
import { aggregate } from '../../src/jobs/aggregate.js';
import { backfillHour, backfillRange } from '../../src/jobs/backfill.js';
import { maintenance } from '../../src/jobs/maintenance.js';
import { regression } from '../../src/jobs/regression.js';
import { sample } from '../../src/jobs/sample.js';
import { warm } from '../../src/jobs/warm.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { seriesDef } from '../../src/metrics/series.js';
import { PointStore } from '../../src/metrics/store.js';
import { abortableWorker, releaseRunning } from '../../src/workers/abortable.js';
import { createTestContext, waitFor, type TestContext } from '../helpers/context.js';
import { MINUTE, HOUR } from '../../src/infra/time.js';

let ctx: TestContext;
let connection: Redis;

const aborted = () => {
  const c = new AbortController();
  c.abort('shutdown');
  return c.signal;
};

async function counts() {
  return ctx.db.one<{ dirty: number; m: number; h: number; runs: number; old: number }>(
    `SELECT (SELECT count(*)::int FROM rollup_dirty_hours) AS dirty,
            (SELECT count(*)::int FROM rollup_1m) AS m,
            (SELECT count(*)::int FROM rollup_1h) AS h,
            (SELECT count(*)::int FROM regression_runs) AS runs,
            (SELECT count(*)::int FROM rollup_1m WHERE bucket < now() - interval '1 day') AS old`,
  );
}

beforeAll(async () => {
  ctx = await createTestContext('abort');
  connection = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
  // Two metrics, two series each, one point a minute for the last six hours.
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const entries: DecodedEntry[] = ['abort_a', 'abort_b'].map((metricName) => {
    const series = ['x', 'y'].map((host) =>
      seriesDef({ metricName, sourceAgentId: null, instanceId: null, tags: { host } }),
    );
    const n = 2 * 360;
    const e: DecodedEntry = {
      series,
      seriesIndex: new Uint32Array(n),
      ts: new Float64Array(n),
      value: new Float64Array(n),
    };
    for (let i = 0; i < n; i++) {
      e.seriesIndex[i] = i % 2;
      e.ts[i] = now - 6 * HOUR + Math.floor(i / 2) * MINUTE;
      e.value[i] = i % 13;
    }
    return e;
  });
  await new PointStore(ctx.db).write(entries);
}, 120_000);

afterAll(async () => {
  await connection?.quit();
  await ctx?.cleanup();
});

describe('each handler given an aborted signal', () => {
  it('throws an AbortError and changes nothing in PostgreSQL or the cache', async () => {
    const before = await counts();
    expect(before.dirty).toBeGreaterThanOrEqual(6);
    expect(before.h).toBe(0);
    const log = ctx.log;
    const signal = aborted();
    const cache = new DashboardCache(ctx.redis, ctx.keys, log);
    const runs: [string, Promise<unknown>][] = [
      ['aggregate', aggregate({ db: ctx.db, log, signal }, { reason: 'manual' })],
      [
        'maintenance',
        maintenance(
          {
            db: ctx.db,
            log,
            signal,
            // Everything past a minute would go: nothing may, as the job is stopped.
            retention: { rawMs: MINUTE, rollup1mMs: MINUTE, rollup1hMs: MINUTE, regressionMs: 1 },
          },
          { reason: 'manual' },
        ),
      ],
      [
        'backfill hour',
        backfillHour(
          { db: ctx.db, log, signal },
          {
            hour: new Date(Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR).toISOString(),
            metric: null,
            dryRun: false,
          },
        ),
      ],
      ['backfill range', backfillRange({ db: ctx.db, log, signal }, { dryRun: false }, [])],
      [
        'regression',
        regression(
          {
            db: ctx.db,
            log,
            signal,
            config: {
              ...ctx.config().regression,
              minSegmentMinutes: 60,
            },
          },
          { reason: 'manual' },
        ),
      ],
      [
        'warm',
        warm(
          {
            db: ctx.db,
            cache,
            log,
            signal,
            limits: { memoryPercent: 90, cpuPercent: 90 },
            ttlMs: 60_000,
          },
          { reason: 'manual' },
        ),
      ],
      [
        'sample',
        sample(
          {
            db: ctx.db,
            redis: ctx.redis,
            buffer: ctx.buffer(),
            keys: ctx.keys,
            queues: [],
            log,
            baseTags: { hostname: 'h' },
            dataDir: '.',
            scrapeTimeoutMs: 1_000,
            scrapeSampleLimit: 100,
            scrapeTargets: [],
            acceptMs: 86_400_000,
            critical: { memoryPercent: 101, cpuPercent: 101 },
            requestFlush: () => Promise.resolve(),
            signal,
          },
          { sampler: 'redis' },
        ),
      ],
    ];
    const outcomes = await Promise.all(
      runs.map(async ([name, p]) => [
        name,
        await p.then(
          () => 'completed',
          (e: Error) => e.name,
        ),
      ]),
    );
    expect(Object.fromEntries(outcomes)).toEqual({
      aggregate: 'AbortError',
      maintenance: 'AbortError',
      'backfill hour': 'AbortError',
      'backfill range': 'AbortError',
      regression: 'AbortError',
      warm: 'AbortError',
      sample: 'AbortError',
    });
    expect(await counts()).toEqual(before);
    expect(await ctx.redis.keys(`${ctx.prefix}:cache*`)).toEqual([]);
    expect(await ctx.buffer().depth()).toBe(0);
    await cache.close();
  });

  it('the same handlers without a signal do their work (the data above is real work)', async () => {
    const r = await aggregate({ db: ctx.db, log: ctx.log }, { reason: 'manual' });
    expect(r.hours).toBeGreaterThanOrEqual(6);
    expect(r.rows).toBe(4 * r.hours);
    // At most the open hour is left (none when the last point fell in the hour before).
    expect((await counts()).dirty).toBeLessThanOrEqual(1);
  });
});

describe('a statement running when the signal aborts', () => {
  it('is cancelled at once, its transaction rolled back, and the call rejects with an AbortError', async () => {
    await ctx.db.none('CREATE TABLE abort_probe (n int)');
    const c = new AbortController();
    const started = Date.now();
    const running = cancellableTx(ctx.db, c.signal, 'probe', async (t) => {
      await t.none('INSERT INTO abort_probe VALUES (1)');
      await t.none('SELECT pg_sleep(30)');
    });
    setTimeout(() => c.abort('shutdown'), 300);
    const err = (await running.catch((e: unknown) => e)) as AbortError;
    const ms = Date.now() - started;
    expect(err).toBeInstanceOf(AbortError);
    expect((err.cause as { code?: string }).code).toBe('57014');
    expect(ms).toBeLessThan(3_000);
    expect((await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM abort_probe')).n).toBe(
      0,
    );
    // The connection went back to the pool clean: every pooled connection still answers.
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => ctx.db.one<{ ok: number }>('SELECT 1 AS ok')),
    );
    expect(answers.map((a) => a.ok)).toEqual([1, 1, 1, 1, 1]);
    // Without an abort the same helper just runs.
    expect(
      await cancellable(ctx.db, new AbortController().signal, 'ok', (t) => t.one('SELECT 2 AS n')),
    ).toEqual({ n: 2 });
  });
});

describe('an aborted BullMQ job', () => {
  const workers: Worker[] = [];
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close(true)));
  });

  const opts = (onAbort: 'wait' | 'fail' = 'wait') => ({
    connection,
    prefix: ctx.prefix,
    onAbort,
  });

  it('goes back to wait without using an attempt, and the next worker completes it', async () => {
    const queue = new Queue('abort-wait', { connection, prefix: ctx.prefix });
    let started = 0;
    const first = abortableWorker<{ n: number }, number>(
      'abort-wait',
      (_job, signal) =>
        new Promise<number>((_resolve, reject) => {
          started += 1;
          signal.addEventListener('abort', () => reject(new AbortError('job aborted')));
        }),
      opts(),
    );
    workers.push(first);
    const job = await queue.add('j', { n: 7 }, { attempts: 1 });
    await waitFor(() => Promise.resolve(started === 1), 10_000, 'the job to start');
    first.cancelAllJobs('shutdown');
    const closing = Date.now();
    await first.close();
    expect(Date.now() - closing).toBeLessThan(2_000);
    const back = await Job.fromId(queue, job.id as string);
    expect(await back?.getState()).toBe('waiting');
    expect(back?.attemptsMade).toBe(0);

    const second = abortableWorker<{ n: number }, number>(
      'abort-wait',
      (j) => Promise.resolve(j.data.n * 6),
      opts(),
    );
    workers.push(second);
    const done = await waitFor(
      async () => {
        const j = await Job.fromId(queue, job.id as string);
        return (await j?.getState()) === 'completed' ? j : undefined;
      },
      10_000,
      'the job to complete',
    );
    expect(done.returnvalue).toBe(42);
    expect(await queue.getFailedCount()).toBe(0);
    await queue.close();
  });

  it('with onAbort fail (a sample) is failed for good', async () => {
    const queue = new Queue('abort-fail', { connection, prefix: ctx.prefix });
    let started = 0;
    const worker = abortableWorker<unknown, number>(
      'abort-fail',
      (_job, signal) =>
        new Promise<number>((_resolve, reject) => {
          started += 1;
          signal.addEventListener('abort', () => reject(new AbortError('job aborted')));
        }),
      opts('fail'),
    );
    workers.push(worker);
    const job = await queue.add('j', {}, { attempts: 1 });
    await waitFor(() => Promise.resolve(started === 1), 10_000, 'the job to start');
    worker.cancelAllJobs('shutdown');
    await worker.close();
    const after = await Job.fromId(queue, job.id as string);
    expect(await after?.getState()).toBe('failed');
    expect(after?.failedReason).toBe('job aborted');
    await queue.close();
  });

  it('that ignores its signal is moved back to wait by the forced-exit release', async () => {
    const queue = new Queue('abort-release', { connection, prefix: ctx.prefix });
    let started = 0;
    const worker = abortableWorker<unknown, number>(
      'abort-release',
      // Never ends, never looks at its signal.
      () => new Promise<number>(() => void (started += 1)),
      opts(),
    );
    workers.push(worker);
    const job = await queue.add('j', {}, { attempts: 1 });
    await waitFor(() => Promise.resolve(started === 1), 10_000, 'the job to start');
    expect(await releaseRunning([worker])).toBe(1);
    expect(await (await Job.fromId(queue, job.id as string))?.getState()).toBe('waiting');
    expect(await queue.getActiveCount()).toBe(0);
    await worker.close(true);
    await queue.obliterate({ force: true });
    await queue.close();
  });
});
