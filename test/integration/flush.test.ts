// The flush handler against real Redis and PostgreSQL: exactly-once storage when entries
// are re-delivered, duplicated, or cannot be decoded.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flush } from '../../src/jobs/flush.js';
import { decodeEntry } from '../../src/metrics/buffer.js';
import type { Point } from '../../src/metrics/point.js';
import { PointStore } from '../../src/metrics/store.js';
import { countPoints, createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext('flush');
});
afterAll(async () => {
  await ctx?.cleanup();
});
beforeEach(async () => {
  await ctx.db.none('TRUNCATE points');
  await ctx.redis.del(ctx.keys.bufferStream, ctx.keys.bufferDepth, ctx.keys.bufferDead);
});

function points(n: number, t0 = Date.now() - 600_000): Point[] {
  return Array.from({ length: n }, (_, i) => ({
    metricName: `m_${i % 4}`,
    value: i + 0.25,
    ts: t0 + i,
    tags: { hostname: 'h' },
    sourceAgentId: null,
    instanceId: null,
  }));
}

function deps(consumer: string, store = new PointStore(ctx.db), claimIdleMs = 60_000) {
  return { buffer: ctx.buffer(), store, log: ctx.log, consumer, readEntries: 10, claimIdleMs };
}

describe('flush', () => {
  it('stores a batch delivered twice once, and counts the second copy as duplicates', async () => {
    const batch = points(2_500);
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append(batch);
    await buffer.append(batch);
    expect(await buffer.depth()).toBe(5_000);
    const r = await flush(deps('c1'), { reason: 'manual' });
    expect(r.points).toBe(5_000);
    expect(r.inserted).toBe(2_500);
    expect(r.duplicates).toBe(2_500);
    expect(await countPoints(ctx.db)).toBe(2_500);
    const sum = await ctx.db.one<{ s: number }>('SELECT sum(value)::float8 AS s FROM points');
    expect(sum.s).toBeCloseTo(
      batch.reduce((a, p) => a + p.value, 0),
      6,
    );
    expect(await buffer.depth()).toBe(0);
    expect(await ctx.redis.xlen(ctx.keys.bufferStream)).toBe(0);
  });

  it('stores extreme values and millisecond timestamps exactly (binary COPY)', async () => {
    const values = [
      0,
      -0,
      5e-324,
      -5e-324,
      1.7976931348623157e308,
      -1e-300,
      Math.PI,
      0.1 + 0.2,
      123456789.123456,
    ];
    const t0 =
      Date.UTC(2026, 0, 1) > Date.now() - 80 * 86_400_000
        ? Date.UTC(2026, 0, 1)
        : Date.now() - 80 * 86_400_000;
    const batch: Point[] = values.map((value, i) => ({
      metricName: 'extreme',
      value,
      ts: t0 + i * 1_001,
      tags: {},
      sourceAgentId: null,
      instanceId: null,
    }));
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append(batch);
    await flush(deps('c1'), { reason: 'manual' });
    const rows = await ctx.db.many<{ ms: number; value: number }>(
      `SELECT (extract(epoch FROM ts) * 1000)::float8 AS ms, value FROM points ORDER BY ts`,
    );
    expect(rows.map((r) => r.ms)).toEqual(batch.map((p) => p.ts));
    // Every bit pattern survives, -0 included.
    expect(rows.map((r) => r.value)).toEqual(values);
  });

  it('stores repeated (series, timestamp) pairs inside one request once', async () => {
    const one = points(1)[0]!;
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append([one, { ...one, value: 99 }, one]);
    const r = await flush(deps('c1'), { reason: 'manual' });
    expect(r).toMatchObject({ points: 3, inserted: 1, duplicates: 2 });
    expect(await countPoints(ctx.db)).toBe(1);
  });

  it('a series id cache smaller than the series it meets starts over and stores every point under its own series', async () => {
    // A cache of two series: each write leaves only its own series cached, so the third write
    // (the first one's series again) looks them up once more.
    const store = new PointStore(ctx.db, 2);
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    const t0 = Date.now() - 600_000;
    for (const [k, offset] of [0, 4, 0].entries()) {
      const batch = points(400, t0 + k * 1_000).map((p, i) => ({
        ...p,
        metricName: `m_${offset + (i % 4)}`,
      }));
      await buffer.append(batch);
      expect((await flush(deps('c1', store), { reason: 'manual' })).inserted).toBe(400);
    }
    // Point i of a batch has value i + 0.25; its metric number is i % 4 plus the batch's offset.
    const wrong = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM points p JOIN series s ON s.id = p.series_id
       WHERE s.metric_name NOT IN ('m_' || ((p.value - 0.25)::int % 4),
                                   'm_' || ((p.value - 0.25)::int % 4 + 4))`,
    );
    expect(wrong.n).toBe(0);
    expect(await countPoints(ctx.db)).toBe(1_200);
  });

  it('a batch committed but never acknowledged (a crash) is reclaimed by another consumer and not stored again', async () => {
    const batch = points(3_000);
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append(batch);
    // Consumer "dead" reads and commits, then dies before acknowledging.
    const entries = await buffer.read('dead', 100, 60_000);
    expect(entries.map((e) => e.count)).toEqual([1_000, 1_000, 1_000]);
    await new PointStore(ctx.db).write(entries.map((e) => decodeEntry(e)));
    expect(await countPoints(ctx.db)).toBe(3_000);
    // A live consumer does not take entries that are not idle long enough...
    const early = await flush(deps('live', undefined, 60_000), { reason: 'manual' });
    expect(early.points).toBe(0);
    // ...and takes them once they are.
    await new Promise((r) => setTimeout(r, 150));
    const late = await flush(deps('live', undefined, 100), { reason: 'manual' });
    expect(late).toMatchObject({ points: 3_000, inserted: 0, duplicates: 3_000 });
    expect(await countPoints(ctx.db)).toBe(3_000);
    expect(await buffer.depth()).toBe(0);
    const pending = (await ctx.redis.xpending(ctx.keys.bufferStream, 'flush')) as [
      number,
      ...unknown[],
    ];
    expect(pending[0]).toBe(0);
  });

  it('prunes idle consumers that hold nothing, and keeps those that hold entries', async () => {
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append(points(1_500));
    await buffer.read('holder', 1, 60_000); // holds one entry, unacknowledged
    await buffer.read('empty', 1, 60_000);
    await buffer.ack(await buffer.read('empty', 1, 60_000));
    await new Promise((r) => setTimeout(r, 30));
    expect(await buffer.pruneConsumers(10)).toEqual(['empty']);
    const left = (await ctx.redis.xinfo(
      'CONSUMERS',
      ctx.keys.bufferStream,
      'flush',
    )) as unknown[][];
    expect(left.map((row) => row[1])).toEqual(['holder']);
  });

  it('moves an entry that cannot be decoded to the dead-letter stream and stores the rest', async () => {
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append(points(10));
    // Two poisoned entries: series that are not JSON, and points that are not whole.
    await ctx.redis.xadd(
      ctx.keys.bufferStream,
      '*',
      'n',
      '4',
      's',
      '[[not json',
      'p',
      Buffer.alloc(96),
    );
    await ctx.redis.xadd(ctx.keys.bufferStream, '*', 'n', '3', 's', '[]', 'p', Buffer.alloc(10));
    await ctx.redis.incrby(ctx.keys.bufferDepth, 7);
    const r = await flush(deps('c1'), { reason: 'manual' });
    expect(r).toMatchObject({ points: 10, inserted: 10, deadLettered: 7 });
    expect(await buffer.depth()).toBe(0);
    const dead = await ctx.redis.xrange(ctx.keys.bufferDead, '-', '+');
    expect(dead).toHaveLength(2);
    expect(dead[0]?.[1]).toEqual(
      expect.arrayContaining(['s', '[[not json', 'reason', 'entry series are not valid JSON']),
    );
    expect(dead[1]?.[1]).toEqual(
      expect.arrayContaining(['reason', 'entry holds 10 bytes of points, not 3 × 24']),
    );
  });

  it('moves an entry PostgreSQL refuses aside and stores the rest of its batch', async () => {
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append(points(1_500));
    // Written past validation, as a foreign or older writer could: PostgreSQL refuses NUL in jsonb.
    const bad = points(3, Date.now() - 300_000).map((p) => ({ ...p, tags: { host: 'a\u0000b' } }));
    await buffer.append(bad);
    await buffer.append(points(10, Date.now() - 200_000));
    const r = await flush(deps('c1'), { reason: 'manual' });
    expect(r).toMatchObject({ inserted: 1_510, deadLettered: 3 });
    expect(await countPoints(ctx.db)).toBe(1_510);
    expect(await buffer.depth()).toBe(0);
    const dead = await ctx.redis.xrange(ctx.keys.bufferDead, '-', '+');
    expect(dead).toHaveLength(1);
    expect(dead[0]?.[1].join(' ')).toMatch(
      /refused by PostgreSQL: .*(unsupported Unicode escape|\\u0000)/,
    );
  });

  it('re-creates a consumer group that Redis lost (restarted empty) and stores the points', async () => {
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await ctx.redis.del(ctx.keys.bufferStream, ctx.keys.bufferDepth);
    // The stream comes back with the next append, but without the group.
    await buffer.append(points(20));
    await expect(ctx.redis.xinfo('GROUPS', ctx.keys.bufferStream)).resolves.toEqual([]);
    const r = await flush(deps('c1'), { reason: 'manual' });
    expect(r.inserted).toBe(20);
    expect(await buffer.depth()).toBe(0);
  });

  it('stores points for a day with no partition yet, and a later partition takes them over', async () => {
    const day = Date.now() - 20 * 86_400_000;
    const buffer = ctx.buffer();
    await buffer.ensureGroup();
    await buffer.append(points(5, day));
    await flush(deps('c1'), { reason: 'manual' });
    const inDefault = await ctx.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM points_default',
    );
    expect(inDefault.n).toBe(5);
    const dayText = new Date(day).toISOString().slice(0, 10);
    await ctx.db.one('SELECT pulse_ensure_points_partitions($1::date, $1::date)', [dayText]);
    const moved = await ctx.db.one<{ n: number; d: number }>(
      `SELECT (SELECT count(*)::int FROM ${'points_' + dayText.replace(/-/g, '')}) AS n, (SELECT count(*)::int FROM points_default) AS d`,
    );
    expect(moved).toEqual({ n: 5, d: 0 });
    expect(await countPoints(ctx.db)).toBe(5);
  });
});
