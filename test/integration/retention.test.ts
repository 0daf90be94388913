// Retention on plain PostgreSQL: whole partitions past RAW_RETENTION are dropped, nothing
// inside retention is touched, a day with no partition still takes inserts, and rollups past
// their own retention are deleted.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { flush } from '../../src/jobs/flush.js';
import { maintenance } from '../../src/jobs/maintenance.js';
import type { Point } from '../../src/metrics/point.js';
import { PointStore } from '../../src/metrics/store.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { DAY } from '../../src/infra/time.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext('retention');
});
afterAll(async () => {
  await ctx?.cleanup();
});

const point = (ts: number, value: number): Point => ({
  metricName: 'kept',
  value,
  ts,
  tags: {},
  sourceAgentId: null,
  instanceId: null,
});
const dayName = (ms: number) =>
  `points_${new Date(ms).toISOString().slice(0, 10).replace(/-/g, '')}`;

it('drops only what is past retention and keeps inserts working for days without a partition', async () => {
  const now = Date.now();
  const retention = {
    rawMs: 10 * DAY,
    rollup1mMs: 5 * DAY,
    rollup1hMs: 20 * DAY,
    regressionMs: 30 * DAY,
  };
  // Days 15, 12, 9 and 3 ago, with partitions made for them, and one point each.
  const days = [15, 12, 9, 3].map((d) => now - d * DAY);
  await ctx.db.one('SELECT pulse_ensure_points_partitions($1::date, $2::date)', [
    new Date(now - 16 * DAY),
    new Date(now - 8 * DAY),
  ]);
  const buffer = ctx.buffer();
  await buffer.ensureGroup();
  await buffer.append(days.map((ts, i) => point(ts, i)));
  await flush(
    {
      buffer,
      store: new PointStore(ctx.db),
      log: ctx.log,
      consumer: 't',
      readEntries: 10,
      claimIdleMs: 60_000,
    },
    { reason: 'manual' },
  );
  await ctx.db.none(`INSERT INTO rollup_1h SELECT * FROM rollup_1m`);

  const r = await maintenance(
    { db: ctx.db, log: ctx.log, retention, now: () => now },
    { reason: 'manual' },
  );

  expect(r.partitionsDropped).toEqual(
    expect.arrayContaining([dayName(days[0]!), dayName(days[1]!)]),
  );
  expect(r.partitionsDropped).not.toContain(dayName(days[2]!));
  // The partition holding the retention cutoff (10 days ago) is only partly expired: kept.
  expect(r.partitionsDropped).not.toContain(dayName(now - 10 * DAY));
  const left = await ctx.db.many<{ value: number }>('SELECT value FROM points ORDER BY value');
  expect(left.map((p) => p.value)).toEqual([2, 3]);
  expect(r.rollup1mDeleted).toBe(3);
  expect(r.rollup1hDeleted).toBe(0);
  const tables = await ctx.db.manyOrNone<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'points'::regclass`,
  );
  expect(tables.map((t) => t.relname)).toContain(dayName(now + 7 * DAY));

  // Days without a partition (3 days ago here, and 40 days ahead) land in points_default.
  await ctx.db.none(
    `INSERT INTO points (series_id, ts, value) VALUES (1, now() + interval '40 days', 1)`,
  );
  const fallback = await ctx.db.many<{ days: number }>(
    `SELECT round(extract(epoch FROM ts - now()) / 86400)::int AS days FROM points_default ORDER BY ts`,
  );
  expect(fallback.map((r) => r.days)).toEqual([-3, 40]);
});
