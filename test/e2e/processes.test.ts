// Real processes: a worker killed with SIGKILL in the middle of flushing loses nothing and
// stores nothing twice; `npm start` with no URLs comes up on embedded defaults and stops cleanly.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../../src/metrics/point.js';
import { countPoints, createTestContext, waitFor, type TestContext } from '../helpers/context.js';
import { envWithout, freePort, spawnPulse, type Child } from '../helpers/processes.js';

let ctx: TestContext;
const children: Child[] = [];

beforeAll(async () => {
  ctx = await createTestContext('processes');
});

afterAll(async () => {
  for (const c of children)
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await ctx?.cleanup();
});

describe('worker killed with SIGKILL mid-flush', () => {
  it('stores every accepted point exactly once after a restart', async () => {
    const total = 300_000;
    const t0 = Date.now() - 3_600_000;
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    let expectedSum = 0;
    for (let i = 0; i < total; i += 10_000) {
      const chunk: Point[] = [];
      for (let j = i; j < i + 10_000; j++) {
        chunk.push({
          metricName: `kill_${j % 10}`,
          value: j,
          ts: t0 + Math.floor(j / 10),
          tags: {},
          sourceAgentId: null,
          instanceId: null,
        });
        expectedSum += j;
      }
      expect((await buffer.append(chunk)).accepted).toBe(true);
    }
    const env = ctx.env({
      FLUSH_INTERVAL: '100ms',
      FLUSH_READ_ENTRIES: '5',
      FLUSH_CLAIM_IDLE: '5s',
      PORT: '0',
    });

    const first = spawnPulse(['worker'], env);
    children.push(first);
    // Kill while a flush holds entries it has read but not acknowledged.
    const atKill = await waitFor(
      async () => {
        const n = await countPoints(ctx.db);
        const [held] = (await ctx.redis.xpending(ctx.keys.bufferStream, 'flush')) as [number];
        return n > 0 && held > 0 ? n : undefined;
      },
      60_000,
      'the first rows',
    );
    first.proc.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const afterKill = await countPoints(ctx.db);
    // The kill really landed mid-way: some points were stored and most were still buffered.
    expect(atKill).toBeLessThan(total);
    expect(afterKill).toBeLessThan(total);

    const second = spawnPulse(['worker'], env);
    children.push(second);
    await waitFor(
      async () => (await countPoints(ctx.db)) >= total && Number(await buffer.depth()) === 0,
      90_000,
      'every point stored',
    );
    const stored = await ctx.db.one<{ n: number; sum: number }>(
      'SELECT count(*)::int AS n, sum(value)::float8 AS sum FROM points',
    );
    expect(stored).toEqual({ n: total, sum: expectedSum });
    expect(await ctx.redis.xlen(ctx.keys.bufferStream)).toBe(0);

    second.proc.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });
});

describe('npm start on an empty data directory with no URLs set', () => {
  let dataDir: string;
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('starts embedded services, answers /readyz, stores a point and exits 0 on SIGTERM', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pulse-e2e-'));
    await chmod(dataDir, 0o755);
    const port = await freePort();
    const pgPort = await freePort();
    const env = {
      ...envWithout(['DATABASE_URL', 'REDIS_URL']),
      DATA_DIR: path.join(dataDir, '.data'),
      PORT: String(port),
      EMBEDDED_PG_PORT: String(pgPort),
      // The Redis at 127.0.0.1:6379 (when one answers) is shared: keep to this file's prefix.
      PULSE_PREFIX: ctx.prefix,
      FLUSH_INTERVAL: '200ms',
      LOG_LEVEL: 'info',
    };
    const app = spawnPulse(['start'], env, 'npm');
    children.push(app);
    const base = `http://127.0.0.1:${port}`;
    const ready = await waitFor(
      async () => {
        if (app.proc.exitCode !== null) throw new Error(`npm start exited early:\n${app.output()}`);
        const res = await fetch(`${base}/readyz`).catch(() => undefined);
        return res?.status === 200 ? res.json() : undefined;
      },
      100_000,
      '/readyz',
    );
    expect(ready).toEqual({
      status: 'ready',
      checks: { redis: 'ok', postgres: 'ok', migrations: 'ok' },
    });

    const res = await fetch(`${base}/api/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ points: [{ metric_name: 'embedded_check', value: 42.5 }] }),
    });
    expect(res.status).toBe(202);
    const password = (await readFile(path.join(env.DATA_DIR, 'postgres.password'), 'utf8')).trim();
    const client = new pg.Client({
      connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/pulse`,
    });
    await client.connect();
    try {
      const row = await waitFor(
        async () => {
          const r = await client.query<{ metric_value: number }>(
            `SELECT metric_value FROM performance_metrics_ts WHERE metric_name = 'embedded_check'`,
          );
          return r.rows[0];
        },
        20_000,
        'the point in the embedded database',
      );
      expect(row.metric_value).toBe(42.5);
    } finally {
      await client.end();
    }

    app.proc.kill('SIGTERM');
    const exit = await app.exited;
    expect(exit, app.output()).toEqual({ code: 0, signal: null });
    expect(app.output()).toContain('"msg":"stopped"');
    // The embedded PostgreSQL was stopped with it.
    const probe = new pg.Client({
      connectionString: `postgres://postgres@127.0.0.1:${pgPort}/postgres`,
      connectionTimeoutMillis: 1_000,
    });
    await expect(probe.connect()).rejects.toThrow();
  });

  it('a forced exit (a second signal at once) still stops the embedded PostgreSQL it started', async () => {
    const port = await freePort();
    const pgPort = await freePort();
    const env = {
      ...envWithout(['DATABASE_URL', 'REDIS_URL']),
      DATA_DIR: path.join(dataDir, '.data'),
      PORT: String(port),
      EMBEDDED_PG_PORT: String(pgPort),
      PULSE_PREFIX: ctx.prefix,
      LOG_LEVEL: 'info',
    };
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
    // Two signals at once: the first starts the graceful shutdown, the second forces the exit.
    // (Two of the same kind sent together arrive as one; these are two kinds.)
    app.proc.kill('SIGTERM');
    app.proc.kill('SIGINT');
    const exit = await app.exited;
    expect(exit, app.output()).toEqual({ code: 1, signal: null });
    expect(app.output()).toContain('forced exit: stopping the embedded services first');
    const probe = new pg.Client({
      connectionString: `postgres://postgres@127.0.0.1:${pgPort}/postgres`,
      connectionTimeoutMillis: 1_000,
    });
    await expect(probe.connect()).rejects.toThrow();
  });
});
