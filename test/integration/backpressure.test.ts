// Buffer over its cap: ingest answers 503 with Retry-After and stores nothing of that request,
// while everything accepted before stays and is stored once a flush drains the buffer.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { flush } from '../../src/jobs/flush.js';
import { start, type Running } from '../../src/main.js';
import { PointStore } from '../../src/metrics/store.js';
import { countPoints, createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let api: Running;

beforeAll(async () => {
  ctx = await createTestContext('backpressure');
  // The api role alone: no worker drains the buffer behind the test's back.
  api = await start(
    ctx.config({
      PULSE_ROLE: 'api',
      BUFFER_MAX_POINTS: '5000',
      INGEST_MAX_POINTS: '5000',
      FLUSH_INTERVAL: '7s',
    }),
    ctx.log,
  );
});

afterAll(async () => {
  await api?.stop();
  await ctx?.cleanup();
});

const batch = (from: number, n: number) => ({
  points: Array.from({ length: n }, (_, i) => ({
    metric_name: 'bp',
    value: from + i,
    timestamp: Date.now() - 600_000 + from + i,
  })),
});

function post(body: unknown) {
  return fetch(`http://127.0.0.1:${api.port}/api/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

it('answers 503 with Retry-After past the cap, drops nothing accepted, and accepts again once drained', async () => {
  expect((await post(batch(0, 3_000))).status).toBe(202);
  expect((await post(batch(3_000, 2_000))).status).toBe(202);
  const full = await post(batch(5_000, 1));
  expect(full.status).toBe(503);
  expect(full.headers.get('retry-after')).toBe('7');
  expect(await full.json()).toMatchObject({
    status: 503,
    detail: expect.stringContaining('buffer is full (5000 points') as string,
  });
  expect(Number(await ctx.redis.get(ctx.keys.bufferDepth))).toBe(5_000);

  const buffer = ctx.buffer();
  const r = await flush(
    {
      buffer,
      store: new PointStore(ctx.db),
      log: ctx.log,
      consumer: 't',
      readEntries: 100,
      claimIdleMs: 30_000,
    },
    { reason: 'manual' },
  );
  expect(r.inserted).toBe(5_000);
  expect(await countPoints(ctx.db)).toBe(5_000);
  const values = await ctx.db.one<{ min: number; max: number }>(
    'SELECT min(value) AS min, max(value) AS max FROM points',
  );
  expect(values).toEqual({ min: 0, max: 4_999 });

  expect((await post(batch(5_000, 1))).status).toBe(202);
  expect(Number(await ctx.redis.get(ctx.keys.bufferDepth))).toBe(1);
});
