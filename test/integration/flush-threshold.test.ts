// A flush is asked for at once when the buffer passes FLUSH_BATCH, not only at the next tick.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { start, type Running } from '../../src/main.js';
import { countPoints, createTestContext, waitFor, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let app: Running;

beforeAll(async () => {
  ctx = await createTestContext('threshold');
  // An hour between scheduled flushes: only the threshold can explain a prompt flush.
  app = await start(ctx.config({ FLUSH_INTERVAL: '1h', FLUSH_BATCH: '1000' }), ctx.log);
});

afterAll(async () => {
  await app?.stop();
  await ctx?.cleanup();
});

function post(n: number, from: number) {
  const points = Array.from({ length: n }, (_, i) => ({
    metric_name: 'threshold',
    value: from + i,
    timestamp: Date.now() - 60_000 + from + i,
  }));
  return fetch(`http://127.0.0.1:${app.port}/api/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ points }),
  });
}

it('stays buffered below FLUSH_BATCH and is flushed at once past it', async () => {
  // Let the scheduler's first (immediate) tick pass so it cannot be what stores the points.
  await new Promise((r) => setTimeout(r, 1_000));
  expect((await post(600, 0)).status).toBe(202);
  await new Promise((r) => setTimeout(r, 1_500));
  expect(await countPoints(ctx.db)).toBe(0);
  expect((await post(600, 600)).status).toBe(202);
  await waitFor(async () => (await countPoints(ctx.db)) === 1_200, 15_000, 'the threshold flush');
});
