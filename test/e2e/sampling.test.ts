// Three worker processes share the sample schedulers: each fleet-level sampler fires once per
// tick, not three times; scrape targets served over real HTTP arrive in PostgreSQL with their
// values, and targets that hang, answer garbage, 500 or are down give up=0 and nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, waitFor, type TestContext } from '../helpers/context.js';
import { freePort, spawnPulse, type Child } from '../helpers/processes.js';
import { startScrapeFixture, type ScrapeFixture } from '../helpers/scrape-fixture.js';

let ctx: TestContext;
let fixture: ScrapeFixture;
const workers: Child[] = [];
let window: { from: number; to: number };
const targets: Record<string, string> = {};

beforeAll(async () => {
  ctx = await createTestContext('sampling');
  fixture = await startScrapeFixture();
  Object.assign(targets, {
    node: `${fixture.base}/node`,
    app: `${fixture.base}/app`,
    hang: `${fixture.base}/hang`,
    garbage: `${fixture.base}/garbage`,
    error: `${fixture.base}/error`,
    down: `http://127.0.0.1:${await freePort()}/metrics`,
  });
  const env = ctx.env({
    SAMPLERS: 'host',
    SAMPLE_INTERVAL: '1s',
    SCRAPE_TIMEOUT: '500ms',
    SCRAPE_TARGETS: Object.values(targets).join(','),
    FLUSH_INTERVAL: '200ms',
  });
  for (let i = 0; i < 3; i++) workers.push(spawnPulse(['worker'], env));
  // Wait until all three are up (each logs nothing at 'silent'): the schedulers then fire.
  await waitFor(
    async () =>
      (await ctx.db.oneOrNone(
        `SELECT 1 AS one FROM series WHERE metric_name = 'memory_usage_bytes'`,
      )) ?? undefined,
    60_000,
    'the first host sample',
  );
  const from = Date.now();
  await new Promise((r) => setTimeout(r, 6_000));
  for (const w of workers) w.proc.kill('SIGTERM');
  const exits = await Promise.all(workers.map((w) => w.exited));
  window = { from, to: Date.now() };
  expect(exits).toEqual([0, 1, 2].map(() => ({ code: 0, signal: null })));
}, 120_000);

afterAll(async () => {
  for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
  await fixture?.close();
  await ctx?.cleanup();
});

async function latest(metric: string, tags: Record<string, string>): Promise<number | undefined> {
  const row = await ctx.db.oneOrNone<{ value: number }>(
    `SELECT metric_value AS value FROM performance_metrics_ts WHERE metric_name = $1 AND tags @> $2::jsonb ORDER BY "timestamp" DESC LIMIT 1`,
    [metric, JSON.stringify(tags)],
  );
  return row?.value;
}

describe('three workers sampling together', () => {
  it('take each host sample once per tick, not three times', async () => {
    const rows = await ctx.db.many<{ ms: number }>(
      `SELECT (extract(epoch FROM "timestamp") * 1000)::float8 AS ms FROM performance_metrics_ts
       WHERE metric_name = 'memory_usage_bytes' AND "timestamp" BETWEEN to_timestamp($1 / 1000.0) AND to_timestamp($2 / 1000.0)
       ORDER BY 1`,
      [window.from, window.to],
    );
    const seconds = (window.to - window.from) / 1_000;
    // One per 1 s tick (give or take the edges); three workers each firing would give ~3×.
    expect(rows.length).toBeGreaterThanOrEqual(Math.floor(seconds) - 2);
    expect(rows.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    const gaps = rows.slice(1).map((r, i) => r.ms - rows[i]!.ms);
    expect(Math.min(...gaps)).toBeGreaterThan(500);
  });

  it('tag every sample with hostname, instance_id and environment', async () => {
    const row = await ctx.db.one<{ tags: Record<string, string> }>(
      `SELECT tags FROM series WHERE metric_name = 'cpu_usage_percentage' LIMIT 1`,
    );
    expect(Object.keys(row.tags).sort()).toEqual(['environment', 'hostname', 'instance_id']);
    expect(row.tags.environment).toBe('development');
  });
});

describe('scrape targets', () => {
  it('stores node_exporter samples with their labels and exact values', async () => {
    const t = { target: targets.node! };
    expect(await latest('node_load1', t)).toBe(0.73);
    expect(await latest('node_memory_MemAvailable_bytes', t)).toBe(2.4311369728e10);
    expect(await latest('go_gc_duration_seconds', { ...t, quantile: '0.5' })).toBe(3.6473e-5);
    expect(
      await latest('backup_duration_seconds_bucket', { ...t, job: 'nightly', le: '+Inf' }),
    ).toBe(14);
    expect(await latest('up', t)).toBe(1);
  });

  it('stores a prom-client registry as prom-client reports it', async () => {
    const t = { target: targets.app! };
    expect(await latest('fixture_requests_total', { ...t, route: '/x' })).toBe(42);
    expect(await latest('fixture_temperature_celsius', t)).toBe(21.5);
    expect(await latest('fixture_latency_seconds_bucket', { ...t, le: '1' })).toBe(3);
    expect(await latest('fixture_latency_seconds_count', t)).toBe(4);
    expect(await latest('up', t)).toBe(1);
    expect(await latest('scrape_duration_seconds', t)).toBeLessThan(0.5);
  });

  it.each(['hang', 'garbage', 'error', 'down'])(
    'marks the %s target up=0 and stores nothing else for it',
    async (name) => {
      const t = { target: targets[name]! };
      expect(await latest('up', t)).toBe(0);
      const others = await ctx.db.one<{ n: number }>(
        `SELECT count(*)::int AS n FROM series WHERE tags @> $1::jsonb AND metric_name NOT IN ('up', 'scrape_duration_seconds')`,
        [JSON.stringify(t)],
      );
      expect(others.n).toBe(0);
      if (name === 'hang')
        expect(await latest('scrape_duration_seconds', t)).toBeGreaterThanOrEqual(0.5);
    },
  );
});
