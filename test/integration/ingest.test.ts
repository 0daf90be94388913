// The HTTP ingest path against real Redis and PostgreSQL: what is accepted is stored exactly,
// and a rejected request leaves nothing behind, in the buffer or in the tables.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Running } from '../../src/main.js';
import { countPoints, createTestContext, waitFor, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let app: Running;
let base: string;
const TOKEN = 'ingest-token-0123456789';

beforeAll(async () => {
  ctx = await createTestContext('ingest');
  app = await start(
    ctx.config({ INGEST_TOKEN: TOKEN, FLUSH_INTERVAL: '200ms', INGEST_MAX_BODY: '2mb' }),
    ctx.log,
  );
  base = `http://127.0.0.1:${app.port}`;
});

afterAll(async () => {
  await app?.stop();
  await ctx?.cleanup();
});

/** The response headers as sent, repeated ones apart (fetch joins them). */
function rawHeaders(urlPath: string, method: string): Promise<[string, string][]> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${urlPath}`, { method }, (res) => {
      res.resume();
      const h = res.rawHeaders;
      resolve(
        Array.from(
          { length: h.length / 2 },
          (_, i) => [h[2 * i], h[2 * i + 1]] as [string, string],
        ),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function post(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}/api/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('POST /api/v1/metrics', () => {
  it('stores 5,000 points with exactly the values, timestamps and series sent', async () => {
    const t0 = Date.now() - 3_600_000;
    const points = Array.from({ length: 5_000 }, (_, i) => ({
      metric_name: `roundtrip_${i % 7}`,
      value: i % 3 === 0 ? i * 1.000001 : -i / 7,
      timestamp: t0 + i * 13,
      tags: { hostname: `h${i % 5}`, environment: 'test' },
      source_agent_id: i % 2,
      instance_id: `inst-${i % 3}`,
    }));
    const res = await post({ points });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 5_000 });

    await waitFor(async () => (await countPoints(ctx.db)) === 5_000, 30_000, '5,000 rows');
    const rows = await ctx.db.many<{
      metric_name: string;
      ts: number;
      value: number;
      tags: object;
      source_agent_id: string;
      instance_id: string;
    }>(
      `SELECT metric_name, (extract(epoch FROM "timestamp") * 1000)::float8 AS ts, metric_value AS value, tags, source_agent_id, instance_id
       FROM performance_metrics_ts ORDER BY "timestamp"`,
    );
    expect(rows).toHaveLength(5_000);
    rows.forEach((row, i) => {
      const p = points[i]!;
      expect(row).toEqual({
        metric_name: p.metric_name,
        ts: p.timestamp,
        value: p.value,
        tags: p.tags,
        source_agent_id: String(p.source_agent_id),
        instance_id: p.instance_id,
      });
    });
    // 7 names × 5 hosts × 2 agents × 3 instances, but only the combinations that occur.
    const combos = new Set(
      points.map(
        (p) => `${p.metric_name}|${p.tags.hostname}|${p.source_agent_id}|${p.instance_id}`,
      ),
    );
    expect((await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM series')).n).toBe(
      combos.size,
    );
    expect(Number(await ctx.redis.get(ctx.keys.bufferDepth))).toBe(0);
  });

  it('answers 401 without the ingest token or with a wrong one', async () => {
    const body = { points: [{ metric_name: 'a', value: 1 }] };
    const none = await post(body, { authorization: '' });
    expect(none.status).toBe(401);
    // Bearer only: offered Basic, a browser would answer a page's fetch with a login dialog.
    const raw = await rawHeaders('/api/v1/metrics', 'POST');
    expect(raw.filter(([k]) => k.toLowerCase() === 'www-authenticate').map(([, v]) => v)).toEqual([
      'Bearer realm="ingest"',
    ]);
    expect(await none.json()).toMatchObject({
      status: 401,
      detail: 'an Authorization: Bearer token is required',
    });
    const wrong = await post(body, { authorization: 'Bearer ingest-token-0123456780' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ detail: 'the bearer token is wrong' });
  });

  describe('bad input: 400/413/415 problem+json, and nothing of the request is stored', () => {
    const ok = { metric_name: 'good_metric', value: 1 };
    const hour = 3_600_000;
    const cases: [string, unknown, number, { field: string; index?: number; reason: RegExp }?][] = [
      ['invalid JSON', '{"points": [', 400, { field: 'body', reason: /invalid JSON/ }],
      ['body not an object', [1, 2], 400, { field: 'body', reason: /must be a JSON object/ }],
      ['points missing', {}, 400, { field: 'points', reason: /is required/ }],
      [
        'points not an array',
        { points: {} },
        400,
        { field: 'points', reason: /must be an array, got object/ },
      ],
      [
        'more than 10,000 points',
        { points: Array.from({ length: 10_001 }, () => ok) },
        400,
        { field: 'points', reason: /at most 10000/ },
      ],
      [
        'metric_name missing',
        { points: [ok, { value: 1 }] },
        400,
        { index: 1, field: 'metric_name', reason: /is required/ },
      ],
      [
        'metric_name wrong type',
        { points: [ok, { metric_name: 5, value: 1 }] },
        400,
        { index: 1, field: 'metric_name', reason: /must be a string, got number/ },
      ],
      [
        'metric_name over 100 chars',
        { points: [{ metric_name: 'a'.repeat(101), value: 1 }] },
        400,
        { index: 0, field: 'metric_name', reason: /1 to 100 characters, got 101/ },
      ],
      [
        'metric_name bad characters',
        { points: [{ metric_name: 'cpu usage', value: 1 }] },
        400,
        { index: 0, field: 'metric_name', reason: /must match/ },
      ],
      [
        'value missing',
        { points: [{ metric_name: 'a' }] },
        400,
        { index: 0, field: 'value', reason: /is required/ },
      ],
      [
        'value is a string',
        { points: [ok, ok, { metric_name: 'a', value: '1.5' }] },
        400,
        { index: 2, field: 'value', reason: /must be a number, got string/ },
      ],
      [
        'value is "NaN"',
        { points: [{ metric_name: 'a', value: 'NaN' }] },
        400,
        { index: 0, field: 'value', reason: /must be a number/ },
      ],
      [
        'value overflows to Infinity',
        '{"points":[{"metric_name":"a","value":1e999}]}',
        400,
        { index: 0, field: 'value', reason: /finite/ },
      ],
      [
        'value and metric_value both',
        { points: [{ metric_name: 'a', value: 1, metric_value: 1 }] },
        400,
        { index: 0, field: 'metric_value', reason: /either/ },
      ],
      [
        'more than 32 tags',
        {
          points: [
            {
              ...ok,
              tags: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`t${i}`, 'v'])),
            },
          ],
        },
        400,
        { index: 0, field: 'tags', reason: /at most 32/ },
      ],
      [
        'tag value over 200 chars',
        { points: [{ ...ok, tags: { host: 'x'.repeat(201) } }] },
        400,
        { index: 0, field: 'tags.host', reason: /at most 200/ },
      ],
      [
        'tag value not a string',
        { points: [{ ...ok, tags: { port: 80 } }] },
        400,
        { index: 0, field: 'tags.port', reason: /must be a string/ },
      ],
      [
        'timestamp over 1 h ahead',
        { points: [{ ...ok, timestamp: Date.now() + hour + 60_000 }] },
        400,
        { index: 0, field: 'timestamp', reason: /1 h in the future/ },
      ],
      [
        'timestamp older than retention',
        { points: [{ ...ok, timestamp: new Date(Date.now() - 91 * 24 * hour).toISOString() }] },
        400,
        { index: 0, field: 'timestamp', reason: /older than the 29 d pulse accepts/ },
      ],
      [
        'timestamp in epoch seconds',
        { points: [{ ...ok, timestamp: Math.floor(Date.now() / 1000) }] },
        400,
        { index: 0, field: 'timestamp', reason: /milliseconds/ },
      ],
      [
        'timestamp not ISO-8601',
        { points: [{ ...ok, timestamp: 'yesterday' }] },
        400,
        { index: 0, field: 'timestamp', reason: /ISO-8601/ },
      ],
      [
        'unknown field',
        { points: [{ ...ok, metricname: 'a' }] },
        400,
        { index: 0, field: 'metricname', reason: /not a known field/ },
      ],
      [
        'body over the size limit',
        { points: [{ ...ok, tags: { a: 'x'.repeat(200) } }], pad: 'x'.repeat(2_200_000) },
        413,
      ],
    ];

    it.each(cases)('%s', async (_name, body, status, error) => {
      const res = await post(body);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = (await res.json()) as {
        status: number;
        errors?: { field: string; index?: number; reason: string }[];
      };
      expect(problem.status).toBe(status);
      if (error) {
        expect(problem.errors?.[0]).toMatchObject({
          field: error.field,
          reason: expect.stringMatching(error.reason) as string,
        });
        if (error.index !== undefined) expect(problem.errors?.[0]?.index).toBe(error.index);
      }
    });

    it('answers 415 for a body that is not JSON', async () => {
      const res = await post('metric_name=a&value=1', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(res.status).toBe(415);
    });

    it('left nothing in the buffer or the tables', async () => {
      // The round-trip test stored 5,000 rows; the rejected requests must not add any.
      expect(Number(await ctx.redis.get(ctx.keys.bufferDepth))).toBe(0);
      expect(await ctx.redis.xlen(ctx.keys.bufferStream)).toBe(0);
      expect(await countPoints(ctx.db)).toBe(5_000);
      const names = await ctx.db.manyOrNone<{ metric_name: string }>(
        `SELECT DISTINCT metric_name FROM series WHERE metric_name NOT LIKE 'roundtrip_%'`,
      );
      expect(names).toEqual([]);
    });
  });

  it('counts accepted, rejected and flushed points on /metrics', async () => {
    const { parsePrometheusText } = await import('../../src/samplers/prometheus-text.js');
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const { samples } = parsePrometheusText(await res.text());
    const get = (name: string, labels: Record<string, string> = {}) =>
      samples.find(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value;
    expect(get('pulse_points_accepted_total')).toBe(5_000);
    expect(get('pulse_points_flushed_total')).toBe(5_000);
    expect(get('pulse_buffer_depth_points')).toBe(0);
    expect(get('pulse_ingest_requests_total', { status: '202' })).toBe(1);
    // Two from the 401 test and its raw-header request, one from the bad-token one.
    expect(get('pulse_ingest_requests_total', { status: '401' })).toBe(3);
    expect(get('pulse_ingest_requests_total', { status: '413' })).toBe(1);
    // The 10,001-point case alone rejects 10,001 points as invalid.
    expect(get('pulse_points_rejected_total', { reason: 'invalid' })).toBeGreaterThan(10_001);
    expect(
      get('pulse_job_duration_seconds_count', { queue: 'flush', name: 'flush' }),
    ).toBeGreaterThan(0);
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { redis: 'ok', postgres: 'ok', migrations: 'ok' },
    });
  });
});
