// Packed days of raw points: once the maintenance job packs a closed day, every reader of raw
// points (points_all, the plan's performance_metrics_ts view, backfill) answers exactly as
// before; a late point into a packed day is stored once and merged by the next run; retention
// drops packed days; a day whose hours a flush holds is left for the next run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillHour } from '../../src/jobs/backfill.js';
import { maintenance, type MaintenanceDeps } from '../../src/jobs/maintenance.js';
import { decodeEntry, encodeEntry, ENTRY_POINTS } from '../../src/metrics/buffer.js';
import { packDays } from '../../src/metrics/packing.js';
import type { Point } from '../../src/metrics/point.js';
import { PointStore } from '../../src/metrics/store.js';
import { DAY, HOUR, MINUTE } from '../../src/infra/time.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let store: PointStore;

const NOW = Date.now();
// Whole UTC days: 5, 4 and 3 days back are packed with COMPRESS_AFTER 2d; yesterday is not.
const dayStart = (back: number) => Math.floor((NOW - back * DAY) / DAY) * DAY;
const PACKED = [5, 4, 3].map(dayStart);
const OPEN = dayStart(1);
const utc = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const retention = (over: Partial<MaintenanceDeps['retention']> = {}) => ({
  rawMs: 30 * DAY,
  rollup1mMs: 30 * DAY,
  rollup1hMs: 60 * DAY,
  regressionMs: 60 * DAY,
  compressAfterMs: 2 * DAY,
  ...over,
});

const point = (metricName: string, host: string, ts: number, value: number): Point => ({
  metricName,
  value,
  ts,
  tags: { host },
  sourceAgentId: null,
  instanceId: null,
});

async function write(points: Point[]) {
  let inserted = 0;
  for (let i = 0; i < points.length; i += ENTRY_POINTS) {
    const r = await store.write([decodeEntry(encodeEntry(points.slice(i, i + ENTRY_POINTS)))]);
    inserted += r.inserted;
  }
  return inserted;
}

/** Deterministic values with full mantissas, negative and tiny ones among them. */
const valueOf = (i: number) => Math.sin(i * 12.9898) * 43_758.5453 * (i % 7 === 0 ? 1e-9 : 1);

function fleet(): Point[] {
  const points: Point[] = [];
  let i = 0;
  for (const start of [...PACKED, OPEN]) {
    // Three hosts on one grid: one minute, 6 hours a day.
    for (let t = start; t < start + 6 * HOUR; t += MINUTE)
      for (const host of ['a', 'b', 'c']) points.push(point('cpu', host, t, valueOf(i++)));
    // A series of its own timestamps: milliseconds off any grid.
    for (let k = 0; k < 50; k++)
      points.push({
        ...point('jitter', 'z', start + 7 * HOUR + k * 61_337 + (k % 3), valueOf(i++)),
        sourceAgentId: 'agent-7',
        instanceId: 'i-42',
      });
  }
  return points;
}

interface Snapshot {
  rows: {
    metric_name: string;
    host: string;
    source_agent_id: string | null;
    instance_id: string | null;
    ms: number;
    metric_value: number;
  }[];
  perDay: { metric_name: string; day: string; n: number; sum: string }[];
  window: { n: number; sum: string };
}

async function snapshot(): Promise<Snapshot> {
  return {
    rows: await ctx.db.many(
      `SELECT metric_name, tags->>'host' AS host, source_agent_id, instance_id,
              (extract(epoch FROM "timestamp") * 1000)::float8 AS ms, metric_value
       FROM performance_metrics_ts ORDER BY metric_name, host, "timestamp"`,
    ),
    perDay: await ctx.db.many(
      `SELECT s.metric_name, to_char(p.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              count(*)::int AS n, sum(p.value::numeric)::text AS sum
       FROM points_all p JOIN series s ON s.id = p.series_id GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
    // A 24 h window across two packed days, as the plan's queries ask.
    window: await ctx.db.one(
      `SELECT count(*)::int AS n, sum(metric_value::numeric)::text AS sum
       FROM performance_metrics_ts WHERE "timestamp" >= $1 AND "timestamp" < $2`,
      [new Date(PACKED[0]! + 3 * HOUR), new Date(PACKED[0]! + 27 * HOUR)],
    ),
  };
}

const rawPartitions = async () =>
  (
    await ctx.db.manyOrNone<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent IN ('points'::regclass, 'points_packed'::regclass) ORDER BY 1`,
    )
  ).map((r) => r.relname);

const minuteCount = async (ms: number) =>
  (
    await ctx.db.one<{ n: number }>(
      `SELECT coalesce(sum(r.count), 0)::int AS n FROM rollup_1m r
       JOIN series s ON s.id = r.series_id WHERE s.metric_name = 'cpu' AND r.bucket = $1`,
      [new Date(Math.floor(ms / MINUTE) * MINUTE)],
    )
  ).n;

beforeAll(async () => {
  ctx = await createTestContext('packing');
  store = new PointStore(ctx.db);
  await ctx.db.one('SELECT pulse_ensure_points_partitions($1::date, $2::date)', [
    utc(PACKED[0]!),
    utc(OPEN),
  ]);
});
afterAll(async () => {
  await ctx?.cleanup();
});

describe('a packed day', () => {
  let before: Snapshot;
  let backfillBefore: Awaited<ReturnType<typeof backfillHour>>;

  it('answers every reader exactly as before packing', async () => {
    const points = fleet();
    expect(await write(points)).toBe(points.length);
    before = await snapshot();
    expect(before.rows.filter((r) => r.source_agent_id === 'agent-7').length).toBe(4 * 50);
    backfillBefore = await backfillHour(
      { db: ctx.db, log: ctx.log },
      { hour: new Date(PACKED[1]! + 2 * HOUR).toISOString(), metric: null, dryRun: true },
    );
    expect(backfillBefore.points).toBe(180);

    const r = await maintenance(
      { db: ctx.db, log: ctx.log, retention: retention(), now: () => NOW },
      { reason: 'manual' },
    );
    // The three closed days, and the empty partitions made for days before them, are packed.
    expect(r.daysPacked.map((d) => d.day)).toEqual(expect.arrayContaining(PACKED.map(utc)));
    expect(r.daysPacked.map((d) => d.day)).not.toContain(utc(OPEN));
    for (const d of r.daysPacked.filter((x) => PACKED.map(utc).includes(x.day))) {
      expect(d.points).toBe(3 * 360 + 50);
      // One row per grid minute, one per jittered timestamp.
      expect(d.rows).toBe(360 + 50);
      expect(d.rawBytes).toBeGreaterThan(0);
    }
    expect(r.packSkipped).toEqual([]);
    const parts = await rawPartitions();
    for (const day of PACKED) {
      expect(parts).not.toContain(`points_${utc(day).replace(/-/g, '')}`);
      expect(parts).toContain(`points_packed_${utc(day).replace(/-/g, '')}`);
    }
    expect(parts).toContain(`points_${utc(OPEN).replace(/-/g, '')}`);
    const raw = await ctx.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM points WHERE ts < $1',
      [new Date(OPEN)],
    );
    expect(raw.n).toBe(0);

    const after = await snapshot();
    expect(after.rows).toEqual(before.rows);
    expect(after.perDay).toEqual(before.perDay);
    expect(after.window).toEqual(before.window);
    expect(after.window.n).toBe(3 * 360 + 50);

    // The backfill reads packed points as raw ones: the same minutes, nothing to change.
    const again = await backfillHour(
      { db: ctx.db, log: ctx.log },
      { hour: new Date(PACKED[1]! + 2 * HOUR).toISOString(), metric: null, dryRun: true },
    );
    expect(again).toEqual(backfillBefore);
    expect(again.changed).toBe(0);

    // A second run finds nothing left to pack.
    const second = await packDays(ctx.db, new Date(NOW - 2 * DAY));
    expect(second.packed.filter((d) => d.points > 0)).toEqual([]);
  });

  it('stores a late point once, skips one a packed row holds, and merges it on the next run', async () => {
    const day = PACKED[1]!;
    const offGrid = day + 10 * MINUTE + 30_000;
    const onGrid = day + 11 * MINUTE;
    const minuteBefore = await minuteCount(offGrid);

    expect(await write([point('cpu', 'a', offGrid, 1.25)])).toBe(1);
    expect(await write([point('cpu', 'a', offGrid, 1.25)])).toBe(0);
    // Same series and timestamp as a packed point: the stored one stays, nothing is added.
    expect(await write([point('cpu', 'b', onGrid, 99)])).toBe(0);
    // A new series at a packed timestamp is new.
    expect(await write([point('cpu', 'd', onGrid, 7.5)])).toBe(1);
    expect(await minuteCount(offGrid)).toBe(minuteBefore + 1);

    const count = async () =>
      (
        await ctx.db.one<{ n: number }>(
          `SELECT count(*)::int AS n FROM performance_metrics_ts
           WHERE "timestamp" >= $1 AND "timestamp" < $2`,
          [new Date(day), new Date(day + DAY)],
        )
      ).n;
    expect(await count()).toBe(3 * 360 + 50 + 2);
    const stored = await ctx.db.many<{ host: string; metric_value: number }>(
      `SELECT tags->>'host' AS host, metric_value FROM performance_metrics_ts
       WHERE "timestamp" = $1 ORDER BY host`,
      [new Date(onGrid)],
    );
    expect(stored.map((s) => s.host)).toEqual(['a', 'b', 'c', 'd']);
    expect(stored.find((s) => s.host === 'b')?.metric_value).not.toBe(99);

    const r = await packDays(ctx.db, new Date(NOW - 2 * DAY));
    expect(r.packed).toEqual([expect.objectContaining({ day: utc(day), points: 2, rows: 2 })]);
    expect(await count()).toBe(3 * 360 + 50 + 2);
    const loose = await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM points_default');
    expect(loose.n).toBe(0);
    // The merged timestamp is one row again, for the four hosts.
    const rows = await ctx.db.many<{ n: number }>(
      `SELECT cardinality(s.series_ids) AS n FROM points_packed p
       JOIN point_sets s ON s.id = p.set_id WHERE p.ts = $1`,
      [new Date(onGrid)],
    );
    expect(rows).toEqual([{ n: 4 }]);
    // And once merged, the same late point is still refused as stored.
    expect(await write([point('cpu', 'a', offGrid, 1.25)])).toBe(0);
  });

  it('leaves a day whose hours a flush holds for the next run', async () => {
    const day = PACKED[2]!;
    await write([point('cpu', 'a', day + 30_000, 2)]);
    const flushing = await ctx.db.connect();
    try {
      await flushing.none('BEGIN');
      await flushing.one('SELECT pg_advisory_xact_lock_shared(1886221427, $1::int)', [day / HOUR]);
      const r = await packDays(ctx.db, new Date(NOW - 2 * DAY));
      expect(r.skipped).toEqual([utc(day)]);
      expect(r.packed).toEqual([]);
    } finally {
      await flushing.none('ROLLBACK');
      await flushing.done();
    }
    const r = await packDays(ctx.db, new Date(NOW - 2 * DAY));
    expect(r.packed).toEqual([expect.objectContaining({ day: utc(day), points: 1 })]);
  });

  it('is dropped by retention with its series sets', async () => {
    const total = async () =>
      (await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM points_all')).n;
    const oldest = before.perDay
      .filter((d) => d.day === utc(PACKED[0]!))
      .reduce((n, d) => n + d.n, 0);
    const was = await total();
    // Raw retention ending inside the second packed day: only the oldest goes.
    const r = await maintenance(
      {
        db: ctx.db,
        log: ctx.log,
        retention: retention({ rawMs: NOW - (PACKED[1]! + HOUR) }),
        now: () => NOW,
      },
      { reason: 'manual' },
    );
    expect(r.partitionsDropped).toContain(`points_packed_${utc(PACKED[0]!).replace(/-/g, '')}`);
    expect(await total()).toBe(was - oldest);
    const days = await ctx.db.many<{ day: string }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM points_packed_days ORDER BY day`,
    );
    expect(days.map((d) => d.day)).not.toContain(utc(PACKED[0]!));
    expect(days.map((d) => d.day)).toEqual(
      expect.arrayContaining([PACKED[1]!, PACKED[2]!].map(utc)),
    );

    // Everything past retention: no packed row, no series set left.
    await maintenance(
      {
        db: ctx.db,
        log: ctx.log,
        retention: retention({ rawMs: NOW - OPEN }),
        now: () => NOW,
      },
      { reason: 'manual' },
    );
    const left = await ctx.db.one<{ packed: number; sets: number; days: number }>(
      `SELECT (SELECT count(*)::int FROM points_packed) AS packed,
              (SELECT count(*)::int FROM point_sets) AS sets,
              (SELECT count(*)::int FROM points_packed_days) AS days`,
    );
    expect(left).toEqual({ packed: 0, sets: 0, days: 0 });
  });
});
