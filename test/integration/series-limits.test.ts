// MAX_SERIES and MAX_SERIES_PER_METRIC against real Redis and PostgreSQL: a request that would
// create a series past a limit is refused whole and leaves nothing behind, existing series keep
// flowing, a series PostgreSQL stores is never refused, idle series stop counting, samplers keep
// what fits, and BUFFER_MAX_BYTES caps the buffer by size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Running } from '../../src/main.js';
import { sample, type SampleDeps } from '../../src/jobs/sample.js';
import { decodeEntry, PointBuffer } from '../../src/metrics/buffer.js';
import type { Point } from '../../src/metrics/point.js';
import { SeriesRegistry } from '../../src/metrics/series-registry.js';
import { targetKey } from '../../src/samplers/prometheus.js';
import { storedSeries } from '../../src/metrics/store.js';
import { startScrapeFixture } from '../helpers/scrape-fixture.js';
import { countPoints, createTestContext, waitFor, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let app: Running;
let base: string;
let buf: PointBuffer;
let probe: SeriesRegistry;
const TOKEN = 'ingest-token-series-limits';
const PER_METRIC = 5;
const TOTAL = 12;

beforeAll(async () => {
  ctx = await createTestContext('serieslimits');
  app = await start(
    ctx.config({
      INGEST_TOKEN: TOKEN,
      FLUSH_INTERVAL: '200ms',
      MAX_SERIES: String(TOTAL),
      MAX_SERIES_PER_METRIC: String(PER_METRIC),
    }),
    ctx.log,
  );
  base = `http://127.0.0.1:${app.port}`;
  buf = ctx.buffer();
  probe = new SeriesRegistry(ctx.redis, ctx.keys, {
    maxSeries: TOTAL,
    maxPerMetric: PER_METRIC,
    idleMs: 86_400_000,
  });
});

afterAll(async () => {
  await app?.stop();
  await ctx?.cleanup();
});

const t0 = Date.now() - 600_000;

interface WirePoint {
  metric_name: string;
  value: number;
  timestamp: number;
  tags: Record<string, string>;
}

function point(metric: string, host: string, i = 0): WirePoint {
  return { metric_name: metric, value: i + 1, timestamp: t0 + i * 1_000, tags: { host } };
}

/** The same point as the buffer takes it. */
function internal(metric: string, host: string, i = 0): Point {
  return {
    metricName: metric,
    value: i + 1,
    ts: t0 + i * 1_000,
    tags: { host },
    sourceAgentId: null,
    instanceId: null,
  };
}

function post(points: WirePoint[]) {
  return fetch(`${base}/api/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ points }),
  });
}

async function seriesCount(): Promise<number> {
  return (await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM series')).n;
}

async function drained(points: number): Promise<void> {
  await waitFor(async () => (await countPoints(ctx.db)) === points, 30_000, `${points} points`);
  await waitFor(async () => (await buf.depth()) === 0, 30_000, 'an empty buffer');
}

async function limitedCounter(metric: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`pulse_series_limited_total{metric="${metric}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('series limits at ingest', () => {
  let stored = 0;

  it('accepts a metric up to MAX_SERIES_PER_METRIC series', async () => {
    const points = Array.from({ length: PER_METRIC * 3 }, (_, i) =>
      point('limit_a', `h${i % PER_METRIC}`, i),
    );
    const res = await post(points);
    expect(res.status).toBe(202);
    stored += points.length;
    await drained(stored);
    expect(await seriesCount()).toBe(PER_METRIC);
    expect(await probe.activeOf('limit_a')).toBe(PER_METRIC);
  });

  it('refuses a whole request that would create a series past the metric limit', async () => {
    const before = await seriesCount();
    const points = [
      point('limit_a', 'h0', 100), // existing
      point('limit_b', 'b0', 100), // new, within limits
      point('limit_a', 'h-new-1', 101), // new, over the limit
      point('limit_a', 'h-new-2', 102),
      point('limit_a', 'h-new-1', 103),
    ];
    const res = await post(points);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 400,
      limit: 'MAX_SERIES_PER_METRIC',
      limit_value: PER_METRIC,
      metric_name: 'limit_a',
      refused_series: 2,
      errors: [{ index: 2, field: 'metric_name', pointer: '/points/2/metric_name' }],
    });
    expect(String(body.detail)).toContain('points[2].metric_name would create a new series');
    expect(String(body.detail)).toContain('nothing of this request was stored');
    // Nothing stored: no point, no series, an empty buffer, and limit_b was not admitted.
    expect(await buf.depth()).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(await countPoints(ctx.db)).toBe(stored);
    expect(await seriesCount()).toBe(before);
    expect(await probe.activeOf('limit_b')).toBe(0);
    expect(await probe.active()).toBe(PER_METRIC);
    // The three points of the two refused series are counted under their metric.
    expect(await limitedCounter('limit_a')).toBe(3);
  });

  it('keeps accepting points of existing series of a metric at its limit', async () => {
    const points = Array.from({ length: 50 }, (_, i) =>
      point('limit_a', `h${i % PER_METRIC}`, 200 + i),
    );
    const res = await post(points);
    expect(res.status).toBe(202);
    stored += points.length;
    await drained(stored);
    expect(await seriesCount()).toBe(PER_METRIC);
  });

  it('refuses a series past MAX_SERIES across metrics, naming the metric', async () => {
    // 5 (limit_a) + 5 (limit_b) + 2 (limit_c) = 12 = MAX_SERIES
    const fill = [
      ...Array.from({ length: PER_METRIC }, (_, i) => point('limit_b', `b${i}`, i)),
      point('limit_c', 'c0'),
      point('limit_c', 'c1'),
    ];
    expect((await post(fill)).status).toBe(202);
    stored += fill.length;
    await drained(stored);
    expect(await probe.active()).toBe(TOTAL);

    const res = await post([point('limit_c', 'c0', 1), point('limit_d', 'd0', 1)]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      limit: 'MAX_SERIES',
      limit_value: TOTAL,
      metric_name: 'limit_d',
      refused_series: 1,
      errors: [{ index: 1, field: 'metric_name' }],
    });
    expect(String(body.detail)).toContain('(MAX_SERIES)');
    expect(await limitedCounter('limit_d')).toBe(1);
    expect(await seriesCount()).toBe(TOTAL);
  });

  it('admits a series PostgreSQL stores past the limit, after Redis forgot it', async () => {
    // The registry loses limit_a (as after a Redis restart), and five new series fill the metric.
    await ctx.redis.del(ctx.keys.seriesOf('limit_a'));
    await ctx.redis.decrby(ctx.keys.seriesActive, PER_METRIC);
    const fresh = Array.from({ length: PER_METRIC }, (_, i) => point('limit_a', `n${i}`, i));
    expect((await post(fresh)).status).toBe(202);
    stored += fresh.length;
    await drained(stored);
    expect(await probe.activeOf('limit_a')).toBe(PER_METRIC);
    // h0 is not in the registry and the metric is full, but PostgreSQL stores it: not new. (A
    // process that appended h0 lately would not even ask; this one never did.)
    const other = new PointBuffer(ctx.redis, ctx.keys, {
      maxPoints: 100_000,
      series: new SeriesRegistry(ctx.redis, ctx.keys, probe.limits, storedSeries(ctx.db)),
    });
    expect((await other.append([internal('limit_a', 'h0', 999)])).accepted).toBe(true);
    // A new series is still refused there.
    const refused = await other.append([internal('limit_a', 'h-new-3', 999)]);
    expect(refused).toMatchObject({
      accepted: false,
      limited: { metricName: 'limit_a', limit: 'MAX_SERIES_PER_METRIC', points: 1 },
    });
    stored += 1;
    await drained(stored);
    expect(await probe.activeOf('limit_a')).toBe(PER_METRIC + 1);
    const rows = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM performance_metrics_ts
       WHERE metric_name = 'limit_a' AND tags->>'host' = 'h0'`,
    );
    // 3 (first request) + 10 (flowing) + 1
    expect(rows.n).toBe(14);
    expect(await seriesCount()).toBe(TOTAL + PER_METRIC);
  });
});

describe('the series registry', () => {
  it('stops counting series idle past SERIES_IDLE_TIMEOUT, on trim and near a limit', async () => {
    const keys = { ...ctx.keys };
    const registry = new SeriesRegistry(
      ctx.redis,
      Object.assign(keys, {
        seriesActive: `${ctx.prefix}:reg:active`,
        seriesMetrics: `${ctx.prefix}:reg:metrics`,
        seriesOf: (m: string) => `${ctx.prefix}:reg:m:${m}`,
      }),
      { maxSeries: 100, maxPerMetric: 3, idleMs: 60_000 },
    );
    const now = Date.now();
    const refs = (m: string, n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => ({ fingerprint: `${m}-${from + i}`, metricName: m }));
    expect(await registry.admit(refs('x', 3), now - 120_000)).toEqual([]);
    expect(await registry.admit(refs('y', 2), now - 120_000)).toEqual([]);
    expect(await registry.admit(refs('y', 1, 2), now)).toEqual([]);
    expect(await registry.active()).toBe(6);
    // x is at its limit: a fourth series is kept out while the others are fresh...
    const fresh = new SeriesRegistry(ctx.redis, keys, registry.limits);
    const refused = await fresh.admit(refs('x', 1, 3), now - 119_000);
    expect(refused).toEqual([
      { metricName: 'x', limit: 'MAX_SERIES_PER_METRIC', max: 3, fingerprints: ['x-3'] },
    ]);
    // ...and admitted once they are idle past the timeout (they are trimmed first).
    expect(await fresh.admit(refs('x', 1, 3), now)).toEqual([]);
    expect(await fresh.activeOf('x')).toBe(1);
    expect(await fresh.active()).toBe(4);
    // The maintenance step: y's two idle series go, its fresh one stays.
    expect(await fresh.trim(now)).toBe(2);
    expect(await fresh.activeOf('y')).toBe(1);
    expect(await fresh.active()).toBe(2);
  });

  it('keeps what fits for samplers and reports the rest by metric and limit', async () => {
    const keys = Object.assign(
      { ...ctx.keys },
      {
        bufferStream: `${ctx.prefix}:fit:stream`,
        bufferDepth: `${ctx.prefix}:fit:depth`,
        bufferBytes: `${ctx.prefix}:fit:bytes`,
        seriesActive: `${ctx.prefix}:fit:active`,
        seriesMetrics: `${ctx.prefix}:fit:metrics`,
        seriesOf: (m: string) => `${ctx.prefix}:fit:m:${m}`,
      },
    );
    const registry = new SeriesRegistry(
      ctx.redis,
      keys,
      { maxSeries: 6, maxPerMetric: 4, idleMs: 86_400_000 },
      storedSeries(ctx.db),
    );
    const buffer = new PointBuffer(ctx.redis, keys, { maxPoints: 100_000, series: registry });
    const points = [
      ...Array.from({ length: 12 }, (_, i) => internal('fit_a', `a${i % 6}`, i)),
      ...Array.from({ length: 3 }, (_, i) => internal('fit_b', `b${i}`, i)),
    ];
    const { result, refused } = await buffer.appendWhatFits(points);
    expect(result.accepted).toBe(true);
    // fit_a: 4 of 6 series fit (2 kept out, 4 points); fit_b: 2 of 3 fit the total of 6.
    expect(refused).toEqual([
      expect.objectContaining({ metricName: 'fit_a', limit: 'MAX_SERIES_PER_METRIC', points: 4 }),
      expect.objectContaining({ metricName: 'fit_b', limit: 'MAX_SERIES', points: 1 }),
    ]);
    expect(refused[0]?.fingerprints).toHaveLength(2);
    expect(await buffer.depth()).toBe(15 - 5);
    expect(await registry.active()).toBe(6);
  });
});

describe('series limits on scrapes', () => {
  it('stores what fits of a scrape, counts the rest, and stays up', async () => {
    const fixture = await startScrapeFixture();
    try {
      const keysFor = (tag: string) =>
        Object.assign(
          { ...ctx.keys },
          {
            bufferStream: `${ctx.prefix}:${tag}:stream`,
            bufferDepth: `${ctx.prefix}:${tag}:depth`,
            bufferBytes: `${ctx.prefix}:${tag}:bytes`,
            seriesActive: `${ctx.prefix}:${tag}:active`,
            seriesMetrics: `${ctx.prefix}:${tag}:metrics`,
            seriesOf: (m: string) => `${ctx.prefix}:${tag}:m:${m}`,
          },
        );
      const limitedBy = new Map<string, number>();
      const deps = (buffer: PointBuffer): SampleDeps => ({
        db: ctx.db,
        redis: ctx.redis,
        buffer,
        keys: ctx.keys,
        queues: [],
        log: ctx.log,
        baseTags: { hostname: 'h', instance_id: 'i', environment: 'test' },
        dataDir: '.',
        scrapeTimeoutMs: 2_000,
        scrapeSampleLimit: 50_000,
        scrapeTargets: [`${fixture.base}/node`],
        acceptMs: 86_400_000,
        critical: { memoryPercent: 100, cpuPercent: 100 },
        requestFlush: () => Promise.resolve(),
        seriesLimited: (m, n) => limitedBy.set(m, (limitedBy.get(m) ?? 0) + n),
      });
      const target = targetKey(`${fixture.base}/node`);
      const read = async (buffer: PointBuffer) => {
        const perMetric = new Map<string, Set<string>>();
        for (const e of await buffer.read('c', 10_000, 60_000)) {
          const d = decodeEntry(e);
          for (const i of d.seriesIndex) {
            const s = d.series[i]!;
            let set = perMetric.get(s.metricName);
            if (!set) perMetric.set(s.metricName, (set = new Set()));
            set.add(s.fingerprint);
          }
        }
        return perMetric;
      };

      const open = new PointBuffer(ctx.redis, keysFor(`${ctx.prefix}:open`), 100_000);
      await open.ensureGroup();
      const all = await sample(deps(open), { sampler: 'scrape', target });
      const everything = await read(open);
      const perMetricMax = 2;
      let expected = 0;
      for (const set of everything.values()) expected += Math.max(0, set.size - perMetricMax);
      expect(expected).toBeGreaterThan(0);

      const keys = keysFor(`${ctx.prefix}:tight`);
      const tight = new PointBuffer(ctx.redis, keys, {
        maxPoints: 100_000,
        series: new SeriesRegistry(ctx.redis, keys, {
          maxSeries: 1_000,
          maxPerMetric: perMetricMax,
          idleMs: 86_400_000,
        }),
      });
      await tight.ensureGroup();
      const r = await sample(deps(tight), { sampler: 'scrape', target });
      expect(r.up).toBe(true);
      expect(r.limited).toBe(expected);
      expect(r.points + expected).toBe(all.points);
      expect([...limitedBy.values()].reduce((a, b) => a + b, 0)).toBe(expected);
      const kept = await read(tight);
      for (const [metric, set] of everything)
        expect(kept.get(metric)?.size ?? 0).toBe(Math.min(perMetricMax, set.size));
    } finally {
      await fixture.close();
    }
  });
});

describe('BUFFER_MAX_BYTES', () => {
  it('refuses appends past the byte cap and frees the bytes on ack', async () => {
    const keys = Object.assign(
      { ...ctx.keys },
      {
        bufferStream: `${ctx.prefix}:bytes:stream`,
        bufferDepth: `${ctx.prefix}:bytes:depth`,
        bufferBytes: `${ctx.prefix}:bytes:bytes`,
      },
    );
    const buffer = new PointBuffer(ctx.redis, keys, { maxPoints: 1_000_000, maxBytes: 20_000 });
    await buffer.ensureGroup();
    const batch = Array.from({ length: 100 }, (_, i) => internal('bytes_m', `h${i % 10}`, i));
    let accepted = 0;
    let refusedAt = -1;
    for (let i = 0; i < 100; i++) {
      const r = await buffer.append(batch);
      if (!r.accepted) {
        expect(r.limited).toBeUndefined();
        refusedAt = i;
        break;
      }
      accepted += 1;
    }
    expect(refusedAt).toBeGreaterThan(0);
    const bytes = await buffer.bytes();
    expect(bytes).toBeLessThanOrEqual(20_000);
    expect(bytes).toBeGreaterThan(0);
    expect(await buffer.depth()).toBe(accepted * 100);
    // Byte count equals what the stream's entries hold.
    const entries = await buffer.read('c1', 1_000, 60_000);
    expect(entries.reduce((s, e) => s + e.count, 0)).toBe(accepted * 100);
    await buffer.ack(entries);
    expect(await buffer.bytes()).toBe(0);
    expect(await buffer.depth()).toBe(0);
    expect((await buffer.append(batch)).accepted).toBe(true);
  });
});
