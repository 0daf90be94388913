// The bulk writer of history (src/metrics/bulk-writer.ts) against real PostgreSQL: batches in
// flight, a batch stored whole only checked, and the closed hours built from the writes' own
// minutes giving the rollup_1h rows and regression slots the aggregate job gives (the job is run
// again over the same hours and must change nothing); an hour that also holds other rows is left
// to the aggregate job.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aggregateAll } from '../../src/jobs/aggregate.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { BulkWriter, UPKEEP_EVERY } from '../../src/metrics/bulk-writer.js';
import { entryOf } from '../../src/metrics/entry.js';
import { HourRollups } from '../../src/metrics/hour-rollups.js';
import type { Point } from '../../src/metrics/point.js';
import { cachedSeriesDef } from '../../src/metrics/series.js';
import { PointStore, storeSeries } from '../../src/metrics/store.js';
import { StoredPoints } from '../../src/metrics/stored-points.js';
import { HOUR, MINUTE, SECOND } from '../../src/infra/time.js';
import { countPoints, createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
/** Start of the hour three hours ago: three closed hours of data, then the open one. */
let h0: number;

beforeAll(async () => {
  ctx = await createTestContext('bulk-writer');
  h0 = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
});
afterAll(async () => {
  await ctx?.cleanup();
});
beforeEach(async () => {
  await ctx.db.none(
    'TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours, regression_slots, metric_rollup, metric_rollup_partial',
  );
});

/**
 * Points every 15 s for `hours` hours from `from`, three series; values are multiples of 0.25
 * (so every sum and minute mean is exact whatever order it is added in), with rises and falls,
 * and minutes without points.
 */
function points(from: number, hours: number): Point[] {
  const out: Point[] = [];
  for (let t = from; t < from + hours * HOUR; t += 15 * SECOND) {
    const minute = Math.floor(t / MINUTE);
    for (const host of ['a', 'b', 'c']) {
      if ((minute + host.charCodeAt(0)) % 7 === 0) continue; // a gap
      const k = Math.floor(t / (15 * SECOND));
      const value = host === 'c' ? 3 : ((k * 37 + host.charCodeAt(0)) % 41) * 0.25 - 2;
      out.push({
        metricName: 'bw',
        value,
        ts: t,
        tags: { host },
        sourceAgentId: null,
        instanceId: null,
      });
    }
  }
  return out;
}

function batches(list: Point[], size: number): DecodedEntry[] {
  const out: DecodedEntry[] = [];
  for (let i = 0; i < list.length; i += size) out.push(entryOf(list.slice(i, i + size)));
  return out;
}

async function write(entries: DecodedEntry[]) {
  let inserted = 0;
  let checked = 0;
  const writer = new BulkWriter<number>({
    store: new PointStore(ctx.db),
    stored: new StoredPoints(ctx.db),
    hours: new HourRollups(ctx.db),
    onDone: (d) => {
      inserted += d.inserted;
      if (d.checked) checked += 1;
    },
  });
  for (const [i, e] of entries.entries()) await writer.write(e, i);
  const built = (await writer.finish()).hours;
  return { inserted, checked, built };
}

interface HourRows {
  rollups: Record<string, unknown>[];
  slots: { series_id: number; hour: Date; slots: Buffer }[];
}

async function hourRows(): Promise<HourRows> {
  return {
    rollups: await ctx.db.manyOrNone(
      `SELECT series_id, bucket, count::int, sum, min, max, last, last_ts, sketch
       FROM rollup_1h ORDER BY series_id, bucket`,
    ),
    slots: await ctx.db.manyOrNone(
      'SELECT series_id, hour, slots FROM regression_slots ORDER BY series_id, hour',
    ),
  };
}

/** The same hours built again by the aggregate job from rollup_1m. */
async function asTheAggregateJobBuildsThem(hours: number[]): Promise<HourRows> {
  await ctx.db.none(
    'INSERT INTO rollup_dirty_hours (bucket) SELECT unnest($1::timestamptz[]) ON CONFLICT DO NOTHING',
    [hours.map((h) => new Date(h))],
  );
  expect((await aggregateAll({ db: ctx.db, log: ctx.log })).hours).toBe(hours.length);
  return hourRows();
}

describe('bulk writer', () => {
  it('builds the closed hours from its own minutes exactly as the aggregate job builds them', async () => {
    const list = points(h0, 3.5); // three closed hours and half of the open one
    // 700-point batches: minutes split between writes, several in flight at once.
    const r = await write(batches(list, 700));
    expect(r.inserted).toBe(list.length);
    expect(r.built).toBe(3);
    const dirty = await ctx.db.manyOrNone<{ bucket: Date }>(
      'SELECT bucket FROM rollup_dirty_hours',
    );
    expect(dirty.map((d) => d.bucket.getTime())).toEqual([h0 + 3 * HOUR]); // the open hour
    const mine = await hourRows();
    expect(mine.rollups).toHaveLength(9);
    expect(mine.slots).toHaveLength(9);
    const closed = await ctx.db.one<{ n: number; h: number }>(
      `SELECT (SELECT count(*)::int FROM points WHERE ts < $1) AS n,
              (SELECT sum(count)::int FROM rollup_1h) AS h`,
      [new Date(h0 + 3 * HOUR)],
    );
    expect(closed.h).toBe(closed.n);
    expect(await asTheAggregateJobBuildsThem([h0, h0 + HOUR, h0 + 2 * HOUR])).toEqual(mine);
  });

  it('builds the hours its writes have left behind while it writes, and leaves one written again to the aggregate job', async () => {
    const list = points(h0, 3.5);
    const entries = batches(list, 100); // dozens of batches: several rounds of upkeep
    let rounds = 0;
    const writer = new BulkWriter<number>({
      store: new PointStore(ctx.db),
      hours: new HourRollups(ctx.db),
      upkeep: () => Promise.resolve((rounds += 1)),
    });
    for (const [i, e] of entries.entries()) await writer.write(e, i);
    await writer.settle();
    // Before finish(): the first hours are built already, by the rounds of upkeep.
    const early = await ctx.db.one<{ n: number }>(
      'SELECT count(DISTINCT bucket)::int AS n FROM rollup_1h',
    );
    expect(rounds).toBeGreaterThanOrEqual(Math.floor((entries.length - 1) / UPKEEP_EVERY) - 1);
    expect(early.n).toBeGreaterThanOrEqual(2);
    // A late point of the first hour (built already) after the others: that hour is left dirty.
    const late = { ...(list[0] as Point), ts: h0 + 7 * SECOND };
    await writer.write(entryOf([late]), entries.length);
    expect((await writer.finish()).hours).toBe(3);
    const dirty = await ctx.db.manyOrNone<{ bucket: Date }>(
      'SELECT bucket FROM rollup_dirty_hours ORDER BY bucket',
    );
    expect(dirty.map((d) => d.bucket.getTime())).toEqual([h0, h0 + 3 * HOUR]);
    await aggregateAll({ db: ctx.db, log: ctx.log });
    const counts = await ctx.db.one<{ n: number; h: number; m: number }>(
      `SELECT (SELECT count(*)::int FROM points WHERE ts < $1) AS n,
              (SELECT sum(count)::int FROM rollup_1h) AS h,
              (SELECT sum(count)::int FROM rollup_1m WHERE bucket < $1) AS m`,
      [new Date(h0 + 3 * HOUR)],
    );
    expect(counts.n).toBe(list.filter((p) => p.ts < h0 + 3 * HOUR).length + 1);
    expect(counts.h).toBe(counts.n);
    expect(counts.m).toBe(counts.n);
  });

  it('leaves an hour that also holds rows written otherwise to the aggregate job', async () => {
    const list = points(h0, 2);
    // A point of the second hour stored before, by another writer.
    const other = list.filter((p) => p.ts >= h0 + HOUR && p.tags.host === 'a').slice(0, 1);
    await new PointStore(ctx.db).write([entryOf(other)]);
    const r = await write(batches(list, 1_000));
    expect(r.inserted).toBe(list.length - 1);
    expect(r.built).toBe(1); // the first hour only
    const dirty = await ctx.db.manyOrNone<{ bucket: Date }>(
      'SELECT bucket FROM rollup_dirty_hours',
    );
    expect(dirty.map((d) => d.bucket.getTime())).toEqual([h0 + HOUR]);
    await aggregateAll({ db: ctx.db, log: ctx.log });
    const counts = await ctx.db.one<{ n: number; h: number }>(
      'SELECT (SELECT count(*)::int FROM points) AS n, (SELECT sum(count)::int FROM rollup_1h) AS h',
    );
    expect(counts.h).toBe(counts.n);
  });

  it("stores the points of batches in flight at once that hold each other's in another order once", async () => {
    // Large enough batches that both COPYs run at once.
    const list: Point[] = [];
    for (let t = h0; t < h0 + HOUR; t += SECOND)
      for (let s = 0; s < 25; s++)
        list.push({ metricName: 'bw_dl', value: s, ts: t, tags: { s: String(s) }, sourceAgentId: null, instanceId: null }); // prettier-ignore
    // The series stored first: creating a series takes its metric's lock, which would make the
    // second write wait for the first to commit.
    await storeSeries(ctx.db, [...new Set(list.map((p) => cachedSeriesDef(p)))]);
    const mid = Math.floor(list.length / 2);
    const [x1, x2] = [list[0] as Point, list[list.length - 1] as Point];
    // Each batch holds the other's first point as its last: both writes hold a point the other
    // needs by the time they reach it.
    const a = [...list.slice(0, mid), x2];
    const b = [x2, ...list.slice(mid, -1), x1];
    const r = await write([entryOf(a), entryOf(b)]);
    expect(r.inserted).toBe(list.length);
    expect(await countPoints(ctx.db)).toBe(list.length);
    const m1 = await ctx.db.one<{ n: number }>('SELECT sum(count)::int AS n FROM rollup_1m');
    expect(m1.n).toBe(list.length);
  });

  it('only checks batches stored whole, and stores nothing twice', async () => {
    const list = points(h0, 1);
    const entries = batches(list, 500);
    await write(entries);
    const before = await hourRows();
    const again = await write(entries);
    expect(again).toEqual({ inserted: 0, checked: entries.length, built: 0 });
    expect(await countPoints(ctx.db)).toBe(list.length);
    expect(await hourRows()).toEqual(before);
    // Half stored: the stored half is only checked, the rest written.
    await ctx.db.none('DELETE FROM points WHERE ts >= $1', [new Date(h0 + 30 * MINUTE)]);
    const half = await write(entries);
    expect(half.inserted).toBe(list.filter((p) => p.ts >= h0 + 30 * MINUTE).length);
    expect(await countPoints(ctx.db)).toBe(list.length);
  });
});
