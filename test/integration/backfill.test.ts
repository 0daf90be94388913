// Backfill rebuilds rollups from the raw points, hour by hour as one BullMQ flow: damaged
// rollups come back equal to a fresh computation, a second run changes nothing, a dry run
// writes nothing, and a bad range is refused with a clear message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flush } from '../../src/jobs/flush.js';
import type { Point } from '../../src/metrics/point.js';
import { PointStore } from '../../src/metrics/store.js';
import { runBackfill } from '../../scripts/backfill.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { HOUR } from '../../src/infra/time.js';

let ctx: TestContext;
let start: number;

const dump = async () =>
  ctx.db.many<Record<string, unknown>>(
    `SELECT series_id, bucket, count, sum, min, max, last, last_ts, sketch FROM rollup_1m ORDER BY series_id, bucket`,
  );

beforeAll(async () => {
  ctx = await createTestContext('backfill');
  start = Math.floor(Date.now() / HOUR) * HOUR - 4 * HOUR;
  const points: Point[] = [];
  for (let i = 0; i < 3 * 3_600; i += 7) {
    points.push({
      metricName: 'bf_a',
      value: (i % 97) + 0.5,
      ts: start + i * 1_000,
      tags: {},
      sourceAgentId: null,
      instanceId: null,
    });
    points.push({
      metricName: 'bf_b',
      value: -(i % 13),
      ts: start + i * 1_000,
      tags: { k: 'v' },
      sourceAgentId: null,
      instanceId: null,
    });
  }
  const buffer = ctx.buffer();
  await buffer.ensureGroup();
  await buffer.append(points);
  await flush(
    {
      buffer,
      store: new PointStore(ctx.db),
      log: ctx.log,
      consumer: 't',
      readEntries: 100,
      claimIdleMs: 60_000,
    },
    { reason: 'manual' },
  );
});

afterAll(async () => {
  await ctx?.cleanup();
});

const run = (opts: Parameters<typeof runBackfill>[1]) =>
  runBackfill({ db: ctx.db, redisUrl: ctx.redisUrl, config: ctx.config() }, opts);

describe('backfill', () => {
  it('rebuilds damaged rollups to what the flush computed, and a second run changes nothing', async () => {
    const good = await dump();
    await ctx.db.none(`DELETE FROM rollup_1m WHERE bucket < $1`, [new Date(start + 30 * 60_000)]);
    await ctx.db.none(
      `UPDATE rollup_1m SET count = count + 5, sketch = '{}' WHERE bucket >= $1 AND bucket < $2`,
      [new Date(start + HOUR), new Date(start + 2 * HOUR)],
    );
    const progress: [number, number][] = [];
    const from = new Date(start).toISOString();
    const to = new Date(start + 3 * HOUR).toISOString();
    const dry = await run({ from, to, dryRun: true });
    expect(dry).toMatchObject({ hours: 3, dryRun: true });
    expect(dry.changed).toBe(30 * 2 + 60 * 2);
    expect(await dump()).not.toEqual(good);

    const first = await run({ from, to, onProgress: (d, t) => progress.push([d, t]) });
    expect(first).toMatchObject({
      hours: 3,
      points: Math.ceil((3 * 3_600) / 7) * 2,
      changed: 180,
      dryRun: false,
    });
    expect(await dump()).toEqual(good);
    expect(progress.at(-1)).toEqual([3, 3]);
    const h = await ctx.db.one<{ n: number }>(`SELECT sum(count)::int AS n FROM rollup_1h`);
    expect(h.n).toBe((await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM points')).n);

    const second = await run({ from, to });
    expect(second.changed).toBe(0);
    expect(await dump()).toEqual(good);
  });

  it('limits itself to one metric when asked', async () => {
    await ctx.db.none(`UPDATE rollup_1m SET count = 0`);
    const r = await run({
      from: new Date(start).toISOString(),
      to: new Date(start + 3 * HOUR).toISOString(),
      metric: 'bf_b',
    });
    expect(r.changed).toBe(180);
    const wrong = await ctx.db.one<{ a: number; b: number }>(
      `SELECT count(*) FILTER (WHERE s.metric_name = 'bf_a' AND r.count = 0)::int AS a, count(*) FILTER (WHERE s.metric_name = 'bf_b' AND r.count = 0)::int AS b
       FROM rollup_1m r JOIN series s ON s.id = r.series_id`,
    );
    expect(wrong).toEqual({ a: 180, b: 0 });
  });

  it.each([
    [{ from: 'yesterday', to: '2030-01-01' }, /--from "yesterday" is not an ISO-8601 date/],
    [{ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, /must be before --to/],
    [
      { from: new Date(Date.now() - 200 * 86_400_000).toISOString(), to: new Date().toISOString() },
      /older than RAW_RETENTION allows/,
    ],
    [
      {
        from: new Date(Date.now() - HOUR).toISOString(),
        to: new Date(Date.now() + 3 * HOUR).toISOString(),
      },
      /is in the future/,
    ],
    [
      {
        from: new Date(Date.now() - HOUR).toISOString(),
        to: new Date().toISOString(),
        metric: 'nope',
      },
      /no such metric/,
    ],
  ])('refuses %o', async (opts, message) => {
    const before = await dump();
    await expect(run(opts)).rejects.toThrow(message);
    expect(await dump()).toEqual(before);
  });
});
