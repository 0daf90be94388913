// SIGTERM while long jobs run: a warm pass over hundreds of metrics, a backfill over twelve
// hours, an aggregate and a regression run, all real work on seeded data. pulse exits
// 0 within SHUTDOWN_TIMEOUT, leaves no PostgreSQL or Redis of its own running, and has put the
// interrupted jobs back to wait; a forced exit (two signals) does the same with exit 1; the
// next start runs them again and they complete. With DATABASE_URL and REDIS_URL unset (the
// default) pulse starts its embedded PostgreSQL; with them set (CI), it uses them.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FlowProducer, Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/infra/db.js';
import { runningRedis } from '../../src/infra/embedded.js';
import { hoursIn } from '../../src/jobs/backfill.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { seriesDef } from '../../src/metrics/series.js';
import { PointStore } from '../../src/metrics/store.js';
import { createQueues, QUEUE, type Queues } from '../../src/workers/queues.js';
import { createTestContext, waitFor, type TestContext } from '../helpers/context.js';
import { envWithout, freePort, spawnPulse, type Child } from '../helpers/processes.js';
import { MINUTE, HOUR } from '../../src/infra/time.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;
const METRICS = 400;
const HOURS = 12;

const embedded = !process.env.DATABASE_URL;
let ctx: TestContext;
let dataDir: string | undefined;
let env: Record<string, string>;
let port: number;
let pgPort: number;
let db: Db | undefined;
let connection: Redis | undefined;
let queues: Queues | undefined;
const children: Child[] = [];

beforeAll(async () => {
  ctx = await createTestContext('shutdown');
  port = await freePort();
  pgPort = await freePort();
  const common = {
    PORT: String(port),
    LOG_LEVEL: 'info',
    SAMPLERS: 'none',
    SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}ms`,
    // Only the jobs this test asks for: the schedulers' first ticks are far off.
    AGGREGATE_INTERVAL: '1h',
    MAINTENANCE_INTERVAL: '1h',
    WARM_INTERVAL: '1h',
  };
  if (embedded) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-shutdown-'));
    await chmod(dataDir, 0o755);
    env = {
      ...envWithout(['DATABASE_URL', 'REDIS_URL']),
      ...common,
      DATA_DIR: path.join(dataDir, '.data'),
      EMBEDDED_PG_PORT: String(pgPort),
      EMBEDDED_REDIS_PORT: String(await freePort()),
      PULSE_PREFIX: ctx.prefix,
    };
  } else {
    env = { ...envWithout([]), ...ctx.env(common) };
  }
});

afterAll(async () => {
  for (const c of children)
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await queues?.close();
  await connection?.quit();
  await db?.$pool.end();
  await ctx?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function startPulse(): Promise<Child> {
  const app = spawnPulse(['all'], env);
  children.push(app);
  await waitFor(
    async () => {
      if (app.proc.exitCode !== null) throw new Error(`pulse exited early:\n${app.output()}`);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    100_000,
    '/readyz',
  );
  return app;
}

/** Processes whose command line names this test's data directory (the embedded services). */
async function ownServices(): Promise<string[]> {
  if (!dataDir) return [];
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dataDir)) found.push(`${pid} ${cmd.replace(/\0/g, ' ').slice(0, 80)}`);
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The seed: METRICS metrics of one series each, a point every 10 minutes for HOURS hours. */
async function seed(target: Db): Promise<number> {
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  const perSeries = (HOURS * 60) / 10;
  const entries: DecodedEntry[] = [];
  for (let m = 0; m < METRICS; m += 200) {
    const series = Array.from({ length: 200 }, (_, i) =>
      seriesDef({
        metricName: `shutdown_m${m + i}`,
        sourceAgentId: null,
        instanceId: null,
        tags: {},
      }),
    );
    const n = series.length * perSeries;
    const e: DecodedEntry = {
      series,
      seriesIndex: new Uint32Array(n),
      ts: new Float64Array(n),
      value: new Float64Array(n),
    };
    for (let i = 0; i < n; i++) {
      e.seriesIndex[i] = i % series.length;
      e.ts[i] = now - HOURS * HOUR + Math.floor(i / series.length) * 10 * MINUTE;
      e.value[i] = (i * 7) % 101;
    }
    entries.push(e);
  }
  await new PointStore(target).write(entries);
  return METRICS * perSeries;
}

async function states(ids: Record<string, [Queue, string]>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, [queue, id]] of Object.entries(ids))
    out[name] = (await (await Job.fromId(queue, id))?.getState()) ?? 'missing';
  return out;
}

it('SIGTERM during warm, backfill, aggregate and regression jobs exits 0 in time, and the next start runs them again', async () => {
  const first = await startPulse();
  let dbUrl = ctx.dbUrl;
  if (embedded) {
    const password = (
      await readFile(path.join(env.DATA_DIR as string, 'postgres.password'), 'utf8')
    ).trim();
    dbUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/pulse`;
  }
  db = createDb(dbUrl, 4, 'pulse-test-shutdown');
  const redisUrl = embedded
    ? await runningRedis({
        redis: { url: undefined, embeddedPort: Number(env.EMBEDDED_REDIS_PORT) },
      })
    : ctx.redisUrl;
  if (!redisUrl) throw new Error('no Redis answers');
  connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  queues = createQueues(connection, ctx.prefix, 3);
  expect(await seed(db)).toBe(METRICS * HOURS * 6);

  // The jobs: a warm pass (every metric's trends), a backfill flow (a child per hour), an
  // aggregate run (every seeded hour is dirty) and a regression run.
  const warm = await queues.warm.add('warm', { reason: 'manual' });
  const aggregate = await queues.aggregate.add('aggregate', { reason: 'manual' });
  const regression = await queues.regression.add('regression', { reason: 'manual' });
  const now = Date.now();
  const hours = hoursIn(now - HOURS * HOUR, now - HOUR);
  const flows = new FlowProducer({ connection, prefix: ctx.prefix });
  const common = { metric: null, dryRun: false };
  const attempts = { attempts: 3, backoff: { type: 'exponential' as const, delay: 1_000 } };
  const tree = await flows.add({
    name: 'backfill',
    queueName: QUEUE.backfill,
    data: {
      kind: 'range',
      from: new Date(now - HOURS * HOUR).toISOString(),
      to: new Date(now - HOUR).toISOString(),
      ...common,
    },
    opts: attempts,
    children: hours.map((hour) => ({
      name: 'backfill-hour',
      queueName: QUEUE.backfill,
      data: { kind: 'hour', hour, ...common },
      opts: attempts,
    })),
  });
  await flows.close();
  const backfillQueue = new Queue(QUEUE.backfill, { connection, prefix: ctx.prefix });
  const ids: Record<string, [Queue, string]> = {
    warm: [queues.warm as Queue, warm.id as string],
    aggregate: [queues.aggregate as Queue, aggregate.id as string],
    regression: [queues.regression as Queue, regression.id as string],
    backfill: [backfillQueue, tree.job.id as string],
  };

  // SIGTERM once the warm pass and backfill hours are running.
  await waitFor(
    async () =>
      (await queues!.warm.getActiveCount()) === 1 && (await backfillQueue.getActiveCount()) >= 1,
    60_000,
    'the warm pass and backfill hours to run',
  );
  const activeAtSignal = {
    warm: await queues.warm.getActiveCount(),
    backfill: await backfillQueue.getActiveCount(),
  };
  let postmasterPid: number | undefined;
  if (embedded) {
    const pidFile = path.join(env.DATA_DIR as string, 'postgres', 'postmaster.pid');
    postmasterPid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    expect(alive(postmasterPid)).toBe(true);
    expect((await ownServices()).length).toBeGreaterThanOrEqual(1);
  }
  const signalled = Date.now();
  first.proc.kill('SIGTERM');
  const exit = await first.exited;
  const seconds = (Date.now() - signalled) / 1_000;
  expect(exit, first.output()).toEqual({ code: 0, signal: null });
  expect(seconds).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 1_000);
  expect(first.output()).not.toContain('graceful shutdown took too long');
  expect(first.output()).toContain('job aborted: moved back to wait');
  process.stdout.write(
    `shutdown: exit ${exit.code} in ${seconds.toFixed(2)} s with ${JSON.stringify(activeAtSignal)} active\n`,
  );
  if (embedded) {
    expect(alive(postmasterPid as number)).toBe(false);
    expect(existsSync(path.join(env.DATA_DIR as string, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(await ownServices()).toEqual([]);
  }
  // Nothing was left active; the warm pass and the hours went back to wait, none failed.
  const after = await states(ids);
  expect(after.warm).toBe('waiting');
  expect(after.backfill).toBe('waiting-children');
  for (const q of [queues.warm, backfillQueue] as Queue[]) {
    expect(await q.getActiveCount()).toBe(0);
    expect(await q.getFailedCount()).toBe(0);
  }
  const warmJob = await Job.fromId(queues.warm, warm.id as string);
  expect(warmJob?.attemptsMade).toBe(0);

  // A forced exit (two signals at once) while the warm pass runs again: exit 1, the services
  // stopped, the job handed back to wait, not left active.
  const second = await startPulse();
  await waitFor(
    async () => (await queues!.warm.getActiveCount()) === 1,
    60_000,
    'the warm pass to run again',
  );
  second.proc.kill('SIGTERM');
  second.proc.kill('SIGINT');
  const forced = await second.exited;
  expect(forced, second.output()).toEqual({ code: 1, signal: null });
  if (embedded) expect(await ownServices()).toEqual([]);
  expect((await states(ids)).warm).not.toBe('active');
  expect(await queues.warm.getActiveCount()).toBe(0);

  // The next start runs every interrupted job to its end.
  const third = await startPulse();
  let last: Record<string, string> = {};
  await waitFor(
    async () => {
      last = await states(ids);
      return Object.values(last).every((s) => s === 'completed');
    },
    120_000,
    'every interrupted job to complete',
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}\n${third.output()}`);
  });
  const done = await Job.fromId(queues.warm, warm.id as string);
  // Three trends per metric, plus 3 summaries, the report, the metric list and the first
  // page of series.
  expect((done?.returnvalue as { entries: number }).entries).toBe(3 * METRICS + 6);
  const parent = await Job.fromId(backfillQueue, tree.job.id as string);
  expect((parent?.returnvalue as { hours: number }).hours).toBe(hours.length);
  expect(await queues.warm.getFailedCount()).toBe(0);
  expect(await backfillQueue.getFailedCount()).toBe(0);
  await backfillQueue.close();
  third.proc.kill('SIGTERM');
  expect(await third.exited).toEqual({ code: 0, signal: null });
  if (embedded) expect(await ownServices()).toEqual([]);
}, 300_000);
